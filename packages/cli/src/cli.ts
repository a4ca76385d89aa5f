import { createInterface } from "node:readline";
import { type Readable, Writable } from "node:stream";
import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createVigilClient, type VigilClient } from "@vigil/client";
import type { VigilDatabase } from "@vigil/db";
import { CredentialsFile } from "./credentials-file.ts";
import { httpUrl } from "./flags.ts";
import { Output } from "./output.ts";
import { type Progress, progressBar } from "./progress.ts";
import { CliError, UsageError } from "./usage-error.ts";

/** What the CLI gets from its process (main.ts is the only file that touches `process`). */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  /** Aborted on the first Ctrl+C: API calls stop, bulk jobs print what they finished. */
  signal: AbortSignal;
  /** The operating-system user, named in the audit log for database-level work ("cli:<user>"). */
  osUser: string;
  /** Where `vigil login` keeps tokens: the user's config directory plus "vigil". */
  configDir: string;
}

/** The options every command accepts. */
export interface GlobalOptions {
  server?: string;
  json?: boolean;
}

export const DEFAULT_SERVER = "http://127.0.0.1:8080";
const DEFAULT_DATABASE_URL = "postgres://vigil@127.0.0.1:5432/vigil";

/** What every command gets: output, the API, the database for database-level work, progress, prompts. */
export interface Cli {
  readonly io: CliIo;
  readonly output: Output;
  readonly credentials: CredentialsFile;
  /** Per-call options for API calls: cancelled by Ctrl+C. */
  readonly call: { signal: AbortSignal };
  /** --server, else VIGIL_SERVER, else the server of the latest `vigil login`, else http://127.0.0.1:8080. */
  server(): Promise<string>;
  /**
   * A client of the query API, signed in with the stored session of server(), or with VIGIL_TOKEN
   * when it is set (unless `stored`: login and logout always use the stored session).
   */
  api(options?: { stored?: boolean }): Promise<VigilClient>;
  /**
   * A direct connection to DATABASE_URL, for database-level work only (migrate, archive restore,
   * demo seed). Refuses a database that is not migrated unless `unmigrated` is set.
   */
  database(options?: { unmigrated?: boolean }): Promise<VigilDatabase>;
  /** A progress bar on stderr when it is a terminal. */
  progress(label: string, total: number): Progress;
  warn(message: string): void;
  /** A secret (a password): typed without echo on a terminal, or everything piped to stdin. */
  readSecret(prompt: string): Promise<string>;
  /** Closes what the commands opened. */
  close(): Promise<void>;
}

export function createCli(io: CliIo, globals: () => GlobalOptions): Cli {
  const credentials = new CredentialsFile(io.configDir);
  const output = new Output(io.stdout, () => globals().json === true);
  let database: Promise<VigilDatabase> | undefined;

  async function server(): Promise<string> {
    const flag = globals().server;
    if (flag) return flag;
    if (io.env.VIGIL_SERVER) {
      try {
        return httpUrl(io.env.VIGIL_SERVER);
      } catch (err) {
        throw new UsageError(`VIGIL_SERVER ${(err as Error).message}`);
      }
    }
    return (await credentials.currentServer()) ?? DEFAULT_SERVER;
  }

  return {
    io,
    output,
    credentials,
    call: { signal: io.signal },
    server,

    async api(options = {}) {
      const baseUrl = await server();
      const token = options.stored ? undefined : io.env.VIGIL_TOKEN;
      // A token from the environment (CI, scripts) is sent as is; the stored sign-in is not touched.
      const interceptors: Interceptor[] = token
        ? [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
          ]
        : [];
      return createVigilClient({
        baseUrl,
        interceptors,
        store: token ? undefined : credentials.store(baseUrl),
        transport: (o) =>
          createConnectTransport({ baseUrl: o.baseUrl, httpVersion: "1.1", interceptors: o.interceptors }),
      });
    },

    database(options = {}) {
      // Loaded on first use: API commands start faster without the database drivers.
      const db = import("@vigil/db");
      database ??= db.then(({ openDatabase }) =>
        openDatabase(io.env.DATABASE_URL || DEFAULT_DATABASE_URL, { applicationName: "vigil-cli", maxConnections: 2 }),
      );
      return database.then(async (opened) => {
        if (!options.unmigrated) {
          const { pendingMigrations } = await db;
          const pending = await pendingMigrations(opened.db);
          if (pending.length > 0) {
            throw new CliError(
              `the database is not migrated (${pending.length} migration${pending.length === 1 ? "" : "s"} pending, ` +
                `from ${pending[0]}): run \`vigil migrate\` first`,
            );
          }
        }
        return opened;
      });
    },

    progress: (label, total) => progressBar(io.stderr, label, total),

    warn(message) {
      io.stderr.write(`vigil: warning: ${message}\n`);
    },

    async readSecret(prompt) {
      if (io.stdin.isTTY) {
        io.stderr.write(`${prompt}: `);
        const silent = new Writable({ write: (_chunk, _enc, done) => done() });
        const rl = createInterface({ input: io.stdin, output: silent, terminal: true });
        const line = await new Promise<string>((resolve, reject) => {
          rl.once("line", resolve);
          rl.once("close", () => reject(new CliError("no input")));
        });
        rl.close();
        io.stderr.write("\n");
        return line;
      }
      let text = "";
      for await (const chunk of io.stdin) {
        text += chunk;
        if (text.length > 4096) throw new CliError("stdin holds more than 4096 characters: not a password");
      }
      return text.replace(/\r?\n$/, "");
    },

    async close() {
      await (await database?.catch(() => undefined))?.close();
    },
  };
}
