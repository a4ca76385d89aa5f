import { type ParseArgsOptionsConfig, parseArgs } from "node:util";

/** The flags' values as `parseArgs` types them for these options. */
type Values<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ options: O }>>["values"];

/** What `scriptArgs` gives a front door: its flags, and the one way it stops on a bad one. */
export interface ScriptArgs<V> {
  values: V;
  /** Prints `<name>: <message>` on stderr and exits 2, as for a bad flag. */
  fail(message: string): never;
  /** `value` (a flag's, or one item of it) as an integer ≥ 1, or `fail` naming the flag. */
  positiveInt(value: string | undefined, flag: string): number;
}

/**
 * The command line of a front door (`npm run bench -- …`, `load:smoke`, `test:k8s`, …), read the
 * same way by each. `--help` prints the usage and exits 0. An unknown option, a flag without its
 * value or a stray argument prints one line saying which, then the usage, and exits 2: Node's
 * `parseArgs` alone ends the script with a stack trace, which reads like a bug to whoever mistyped.
 */
export function scriptArgs<const O extends ParseArgsOptionsConfig>(name: string, usage: string, options: O) {
  const fail = (message: string): never => {
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(2);
  };
  const text = usage.endsWith("\n") ? usage : `${usage}\n`;
  let values: Values<O>;
  try {
    values = parseArgs({ options: { ...options, help: { type: "boolean", default: false } } }).values as Values<O>;
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n\n${text}`);
    process.exit(2);
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(text);
    process.exit(0);
  }
  const args: ScriptArgs<Values<O>> = {
    values,
    fail,
    positiveInt(value, flag) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer`);
      return n;
    },
  };
  return args;
}
