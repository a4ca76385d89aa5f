import { parseArgs } from "node:util";
import { UsageError } from "./usage-error.ts";

type Spec = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

/** parseArgs with every failure turned into a UsageError carrying the command's usage. */
export function parseFlags<S extends Spec>(args: string[], spec: S, usage: string) {
  try {
    return parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
}

/** A required integer flag within [min, max]. */
export function intFlag(value: unknown, name: string, usage: string, min = 1, max = 2_147_483_647): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}\n${usage}`);
  }
  return n;
}

/** A required string flag. */
export function stringFlag(value: unknown, name: string, usage: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`--${name} is required\n${usage}`);
  return value;
}
