/**
 * Builds the installable package into `dist/`: ESM JavaScript and type
 * declarations (compiled by the repository's TypeScript from `src/` and the
 * generated protobuf-es code it re-exports), a package.json without
 * workspace links, and the README. `npm pack packages/client/dist` then
 * makes the tarball a web or Node.js project installs.
 *
 *   node packages/client/tools/build.ts [--out DIR]     (default packages/client/dist)
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { out: { type: "string" } } });
const dist = values.out ? resolve(values.out) : join(root, "dist");
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  name: string;
  version: string;
  description: string;
  license: string;
  dependencies: Record<string, string>;
};

rmSync(dist, { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", dist], { stdio: "inherit" });

// The entry point sits where the compiler put it, below the common root of src/ and the generated code.
const entry = "./client/src/index";
writeFileSync(
  join(dist, "package.json"),
  `${JSON.stringify(
    {
      name: manifest.name,
      version: manifest.version,
      description: manifest.description,
      license: manifest.license,
      type: "module",
      exports: { ".": { types: `${entry}.d.ts`, default: `${entry}.js` } },
      sideEffects: false,
      dependencies: manifest.dependencies,
    },
    null,
    2,
  )}\n`,
);
copyFileSync(join(root, "README.md"), join(dist, "README.md"));
process.stdout.write(`built ${manifest.name}@${manifest.version} in ${dist}\n`);
