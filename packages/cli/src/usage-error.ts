/** A command line the CLI cannot act on; printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure the CLI explains itself (no "failed:" prefix, no stack); exit code 1. */
export class CliError extends Error {
  override name = "CliError";
}
