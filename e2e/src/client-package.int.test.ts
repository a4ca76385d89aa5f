import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const exec = promisify(execFile);

/** What a web or Node.js developer writes outside this repository, type-checked against the package. */
const program = `
import {
  AlertState,
  Code,
  ConnectError,
  createVigilClient,
  type Device,
  fieldViolations,
  Order,
} from "@vigil/client";

const [baseUrl, password] = process.argv.slice(2) as [string, string];
const vigil = createVigilClient({ baseUrl });

let refused = "";
try {
  await vigil.devices.listDevices({});
} catch (err) {
  refused = ConnectError.from(err).code === Code.Unauthenticated ? "unauthenticated" : String(err);
}

const tokens = await vigil.login("admin", password);
const created = await vigil.devices.createDevice({ code: "PKG", number: 1, site: "lab" });
const device: Device | undefined = (await vigil.devices.getDevice({ code: "PKG", number: 1 })).device;
const page = await vigil.readings.listReadings({ pageSize: 5, order: Order.NEWEST_FIRST });
const firing = await vigil.alerts.listAlerts({ filter: { states: [AlertState.FIRING] } });

let invalid: Array<{ field: string; description: string }> = [];
try {
  await vigil.readings.listReadings({ filter: { deviceCode: "lower" } });
} catch (err) {
  invalid = fieldViolations(err);
}

console.log(JSON.stringify({
  refused,
  user: tokens.user?.username,
  apiKey: created.apiKey.startsWith("vgl_"),
  site: device?.site,
  readings: page.readings.length,
  firing: firing.alerts.length,
  invalid,
}));
`;

describe("@vigil/client installed outside the repository", () => {
  let work: string;
  let pipeline: Pipeline;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "vigil-client-package-"));
    pipeline = await startTestPipeline();
  });
  afterAll(async () => {
    await pipeline?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("builds, packs, installs into an empty project, type-checks and calls a real query service", async () => {
    const npm = (args: string[], cwd: string) => exec("npm", args, { cwd, env: process.env });

    // Build and pack, as a release would.
    const dist = join(work, "dist");
    await exec(process.execPath, [join(repoRoot, "packages/client/tools/build.ts"), "--out", dist]);
    await npm(["pack", dist, "--pack-destination", work, "--silent"], work);
    const tarball = (await readdir(work)).find((f) => f.endsWith(".tgz"));
    expect(tarball).toMatch(/^vigil-client-\d+\.\d+\.\d+\.tgz$/);

    // An empty project outside the repository installs it (its dependencies from the npm cache
    // that `npm ci` filled, or the registry).
    const project = join(work, "project");
    await exec("mkdir", ["-p", project]);
    await writeFile(join(project, "package.json"), JSON.stringify({ name: "outside", private: true, type: "module" }));
    await npm(["install", join(work, tarball!), "--prefer-offline", "--no-audit", "--no-fund", "--silent"], project);
    const installed = (await readdir(join(project, "node_modules/@vigil"))).sort();
    expect(installed).toEqual(["client"]);

    // Its type declarations work for a strict TypeScript project without Node's types (a browser app).
    await writeFile(join(project, "main.ts"), program);
    await writeFile(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["es2022", "dom"],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["main.ts", "process.d.ts"],
      }),
    );
    await writeFile(join(project, "process.d.ts"), "declare const process: { argv: string[] };\n");
    const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");
    await exec(process.execPath, [tsc, "-p", project, "--noEmit"], { cwd: project }).catch((err) => {
      throw new Error(`tsc: ${err.stdout}${err.stderr}`);
    });

    // And it runs against a real query service.
    const { stdout } = await exec(process.execPath, [join(project, "main.ts"), pipeline.queryUrl, ADMIN_PASSWORD], {
      cwd: project,
    });
    expect(JSON.parse(stdout)).toEqual({
      refused: "unauthenticated",
      user: "admin",
      apiKey: true,
      site: "lab",
      readings: 0,
      firing: 0,
      invalid: [{ field: "filter.device_code", description: "must be 1 to 16 capital letters" }],
    });
  });
});
