import { z } from "zod";

/**
 * Parses environment variables with a zod schema, once, and freezes the
 * result. On bad input it throws one error naming every offending variable,
 * so a misconfigured pod fails at start with a message an SRE can act on.
 */
export function parseEnvConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): Readonly<z.output<S>> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = issue.path.join(".") || "(environment)";
      const value = env[String(issue.path[0])];
      const shown = value === undefined ? "unset" : `got ${JSON.stringify(value)}`;
      return `  ${name}: ${issue.message} (${shown})`;
    });
    throw new ConfigError(`invalid configuration:\n${problems.join("\n")}`);
  }
  return Object.freeze(result.data);
}

/** Thrown by parseEnvConfig; main.ts prints its message and exits 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** An integer environment variable within [min, max], with a default. */
export function envInt(defaultValue: number, min: number, max: number) {
  return z.coerce
    .number()
    .int("must be an integer")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(defaultValue);
}

/** A TCP port (0 picks a free one), with a default. */
export function envPort(defaultValue: number) {
  return envInt(defaultValue, 0, 65535);
}

/** A boolean environment variable: true/false/1/0/yes/no/on/off. */
export function envBool(defaultValue: boolean) {
  return z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], {
      message: "must be true or false",
    })
    .default(defaultValue ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes" || v === "on");
}

/** A pino log level. */
export const envLogLevel = z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info");

/** An optional string; an empty value counts as unset. */
export function envOptionalString() {
  return z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? undefined : v));
}
