import { resolve } from "node:path";
import { DirectoryStore } from "./directory-store.ts";
import { S3Store, type S3StoreOptions } from "./s3-store.ts";

/**
 * Where archived readings go: an S3-compatible bucket in production, a
 * local directory for the quick start. Keys are `/`-separated paths.
 */
export interface ArchiveStore {
  /** Where the store points, for logs and audit records (no credentials). */
  readonly location: string;
  /** Uploads a local file. */
  putFile(key: string, path: string): Promise<void>;
  putText(key: string, text: string): Promise<void>;
  /** Downloads an object into a local file. */
  getFile(key: string, path: string): Promise<void>;
  /** An object's text, or undefined when it does not exist. */
  getText(key: string): Promise<string | undefined>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}

/**
 * Opens `s3://bucket[/prefix]` (credentials from the AWS SDK's default
 * chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an IAM role)
 * or `file:<directory>` (relative to the working directory).
 */
export function openArchiveStore(url: string, s3: Omit<S3StoreOptions, "bucket" | "prefix"> = {}): ArchiveStore {
  if (url.startsWith("file:")) {
    const dir = url.slice("file:".length).replace(/^\/\/(?=\/)/, "");
    if (!dir) throw new Error("archive URL file: needs a directory, e.g. file:.vigil/archive");
    return new DirectoryStore(resolve(dir));
  }
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (m) {
    const prefix = m[2] ? `${m[2].replace(/\/+$/, "")}/` : "";
    return new S3Store({ ...s3, bucket: m[1]!, prefix });
  }
  throw new Error(`archive URL must be s3://bucket[/prefix] or file:<directory>, got ${JSON.stringify(url)}`);
}
