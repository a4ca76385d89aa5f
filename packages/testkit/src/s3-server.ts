import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort } from "./free-port.ts";
import { exited, findExecutable, waitFor } from "./process-tools.ts";

/** A private S3-compatible server (versitygw, posix backend) for tests. */
export interface S3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Creates a bucket and returns its name. */
  createBucket(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts versitygw on a free loopback port, storing objects in a temp dir. */
export async function startS3(): Promise<S3Server> {
  const binary = findExecutable("versitygw");
  if (!binary) throw new Error("versitygw is not installed (run scripts/install-tools.sh versitygw)");
  const dir = mkdtempSync(join(tmpdir(), "vigil-s3-"));
  mkdirSync(join(dir, "data"));
  const port = await freePort();
  const accessKeyId = "vigiltest";
  const secretAccessKey = randomBytes(12).toString("hex");
  const proc: ChildProcess = spawn(
    binary,
    [
      "--access",
      accessKeyId,
      "--secret",
      secretAccessKey,
      "--port",
      `127.0.0.1:${port}`,
      "--quiet",
      "posix",
      join(dir, "data"),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  proc.stderr?.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  await waitFor(`versitygw on port ${port}`, async () => {
    if (proc.exitCode !== null) throw new Error(`versitygw exited: ${stderr}`);
    const res = await fetch(endpoint).catch(() => undefined);
    return res !== undefined;
  });
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    async createBucket(name = `vigil-${randomBytes(4).toString("hex")}`) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async stop() {
      client.destroy();
      proc.kill("SIGTERM");
      await exited(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
