#!/usr/bin/env node
// Adds lockfile entries for platform-specific optional packages that npm
// could not record because the registry mirror it used serves only some
// platforms (here: linux x64/arm64). Without them `npm ci` refuses the
// lockfile as out of sync. Entries carry os/cpu/libc, so npm skips them on
// other platforms without fetching. A no-op where the lockfile is complete.
// Usage: node scripts/complete-lockfile.mjs [--check]
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const packages = lock.packages;
const added = [];

for (const [where, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${where ? `${where}/` : ""}node_modules/${name}`;
    if (packages[nested] || packages[`node_modules/${name}`]) continue;
    const platform = platformOf(name);
    if (!platform) continue;
    packages[`node_modules/${name}`] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platform,
    };
    added.push(`${name}@${version}`);
  }
}

if (process.argv.includes("--check")) {
  if (added.length) {
    console.error(
      `package-lock.json lacks platform packages: ${added.join(", ")}\nrun: node scripts/complete-lockfile.mjs`,
    );
    process.exit(1);
  }
  process.exit(0);
}
if (added.length) {
  lock.packages = Object.fromEntries(
    Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
  );
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
}
console.log(added.length ? `added ${added.join(", ")}` : "lockfile complete");

/** os/cpu/libc from a platform package name such as @biomejs/cli-linux-x64-musl or @turbo/darwin-64. */
function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.find((p) =>
    ["darwin", "linux", "win32", "windows", "android", "freebsd", "openbsd", "sunos", "aix"].includes(p),
  );
  const cpuToken = parts.find((p) =>
    ["arm64", "x64", "64", "ia32", "armv7", "arm", "ppc64", "s390x", "riscv64", "loong64"].includes(p),
  );
  if (!os || !cpuToken) return undefined;
  const cpu = { 64: "x64", armv7: "arm" }[cpuToken] ?? cpuToken;
  const out = { os: [os === "windows" ? "win32" : os], cpu: [cpu] };
  if (parts.includes("musl")) out.libc = ["musl"];
  else if (os === "linux" && parts.includes("gnu")) out.libc = ["glibc"];
  return out;
}
