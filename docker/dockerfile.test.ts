import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { repoRoot } from "@vigil/testkit";
import { describe, expect, it } from "vitest";

const hadolint = [join(repoRoot, ".tools/bin"), ...(process.env.PATH ?? "").split(delimiter)]
  .map((d) => join(d, "hadolint"))
  .find((p) => existsSync(p));
if (!hadolint) console.warn("Dockerfile lint skipped: hadolint is not installed (scripts/install-tools.sh hadolint)");

/** No Docker engine here: the Dockerfile is linted and read, not built (docs/deploy.md says how to build). */
describe("Dockerfile", () => {
  const dockerfile = join(repoRoot, "Dockerfile");
  const text = readFileSync(dockerfile, "utf8");

  it.skipIf(!hadolint)("lints clean with hadolint", () => {
    const r = spawnSync(hadolint!, ["--no-color", dockerfile], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("has a stage per image with tini as PID 1, running the service's entry point (tracing loaded first)", () => {
    for (const [service, main] of Object.entries({
      receiver: "services/receiver/src/main.ts",
      writer: "services/writer/src/main.ts",
      query: "services/query/src/main.ts",
      lifecycle: "services/lifecycle/src/main.ts",
      alerter: "services/alerter/src/main.ts",
      simulator: "simulator/src/main.ts",
      cli: "packages/cli/src/main.ts",
    })) {
      const stage = text.split(/^FROM /m).find((s) => s.includes(`AS service-${service}\n`));
      expect(stage, service).toBeDefined();
      const node = service === "cli" ? "" : `"--import", "@vigil/telemetry/register", `;
      expect(stage).toContain(`ENTRYPOINT ["/usr/bin/tini", "--", "node", ${node}"${main}"]`);
      expect(existsSync(join(repoRoot, main)), main).toBe(true);
      // Long-running services are checked on their health endpoint; the simulator and the CLI are not servers.
      if (service === "simulator" || service === "cli") expect(stage).toMatch(/^HEALTHCHECK NONE$/m);
      else expect(stage).toMatch(/^HEALTHCHECK .*\n\s+CMD \["node", "docker\/healthcheck.ts", "(grpc|http)"/m);
    }
  });

  it("health-checks each service on the port its configuration says", async () => {
    const { status } = spawnSync(process.execPath, [join(repoRoot, "docker/healthcheck.ts"), "http"], {
      encoding: "utf8",
    });
    expect(status).toBe(2);
    for (const [service, variable, port] of [
      ["query", "QUERY_OPS_PORT", "9104"],
      ["writer", "WRITER_OPS_PORT", "9102"],
      ["lifecycle", "LIFECYCLE_OPS_PORT", "9103"],
      ["alerter", "ALERTER_OPS_PORT", "9105"],
    ]) {
      const stage = text.split(/^FROM /m).find((s) => s.includes(`AS service-${service}\n`))!;
      expect(stage).toContain(`"http", "${variable}", "${port}"]`);
      expect(stage).toMatch(new RegExp(`^EXPOSE (\\d+ )*${port}( \\d+)*$`, "m"));
    }
  });

  it("runs as a numeric non-root user and installs production dependencies only", () => {
    expect(text).toMatch(/^USER 1000:1000$/m);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/turbo prune "@vigil\/\$SERVICE" --docker/);
    // The Node base matches the version the project pins.
    const pinned = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).devDependencies.node;
    expect(text).toContain(`ARG NODE_IMAGE=node:${pinned}-`);
    const turbo = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).devDependencies.turbo;
    expect(text).toContain(`ARG TURBO_VERSION=${turbo}`);
  });
});
