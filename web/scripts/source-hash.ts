import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The web workspace's directory. */
export const webDir = fileURLToPath(new URL("..", import.meta.url));
/** Where `vite build` writes the console, and the stamp of the sources it was built from. */
export const distDir = join(webDir, "dist");
export const stampFile = join(distDir, ".source-hash");

const INPUTS = ["src", "public", "index.html", "vite.config.ts", "package.json", "../packages/proto/src"];

/** A hash of every file the console's build reads (its sources and the generated protobuf code). */
export function sourceHash(): string {
  const hash = createHash("sha256");
  const add = (path: string) => {
    if (!existsSync(path)) return;
    const entries = readdirSync(path, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
      .sort();
    for (const file of entries) {
      hash.update(relative(webDir, file)).update("\0").update(readFileSync(file)).update("\0");
    }
  };
  for (const input of INPUTS) {
    const path = join(webDir, input);
    if (path.endsWith(".ts") || path.endsWith(".json") || path.endsWith(".html")) {
      if (existsSync(path)) hash.update(input).update("\0").update(readFileSync(path)).update("\0");
    } else add(path);
  }
  return hash.digest("hex");
}

/** True when dist/ was built from the sources as they are now. */
export function isBuildFresh(): boolean {
  return existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === sourceHash();
}
