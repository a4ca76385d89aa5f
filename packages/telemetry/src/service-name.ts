import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The service.name for a process: its entry script's package name, with
 * "@vigil/" read as "vigil-" (services/receiver/src/main.ts → vigil-receiver),
 * so spans say which service made them without any configuration.
 */
export function serviceNameOf(entry: string | undefined): string {
  for (let dir = entry ? dirname(entry) : ""; dir && dir !== dirname(dir); dir = dirname(dir)) {
    const name = packageName(join(dir, "package.json"));
    if (name) return name.replace(/^@vigil\//, "vigil-");
  }
  return "vigil";
}

function packageName(file: string): string | undefined {
  try {
    const { name } = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown };
    return typeof name === "string" && name !== "" ? name : undefined;
  } catch {
    return undefined;
  }
}
