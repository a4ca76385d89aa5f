import { randomUUID } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type TokenStore, TokensSchema } from "@vigil/client";

/** What `credentials.json` holds: the tokens of each server signed in to, and the last one. */
interface CredentialsJson {
  /** The server of the latest `vigil login`, used when neither --server nor VIGIL_SERVER is given. */
  current?: string;
  servers: Record<string, JsonValue>;
}

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 30_000;

/**
 * The CLI's sign-ins, one file in the user's config directory
 * (`$XDG_CONFIG_HOME/vigil/credentials.json` on Linux), readable by the
 * user only (0600 in a 0700 directory). Refresh tokens work once, so a
 * refresh takes a lock file: two `vigil` processes never spend the same
 * token (which the server would take for theft and sign the user out).
 */
export class CredentialsFile {
  readonly path: string;
  readonly #dir: string;
  readonly #lock: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.path = join(dir, "credentials.json");
    this.#lock = join(dir, "credentials.lock");
  }

  /** The server of the latest sign-in, if any. */
  async currentServer(): Promise<string | undefined> {
    return (await this.#read()).current;
  }

  /** The token store of one server. */
  store(server: string): TokenStore {
    return {
      load: async () => {
        const json = (await this.#read()).servers[server];
        return json === undefined ? undefined : fromJson(TokensSchema, json, { ignoreUnknownFields: true });
      },
      save: async (tokens) => {
        const file = await this.#read();
        if (tokens) {
          file.servers[server] = toJson(TokensSchema, tokens);
          file.current = server;
        } else {
          delete file.servers[server];
          if (file.current === server) delete file.current;
        }
        await this.#write(file);
      },
      exclusive: (work) => this.#exclusive(work),
    };
  }

  async #read(): Promise<CredentialsJson> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { servers: {} };
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<CredentialsJson>;
    return { current: parsed.current, servers: parsed.servers ?? {} };
  }

  /** Written whole to a temporary file, then renamed: a reader never sees half a file. */
  async #write(file: CredentialsJson): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${randomUUID()}.tmp`;
    await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    // The mode given to writeFile is masked by the umask and ignored for an existing file.
    await chmod(temp, 0o600);
    await rename(temp, this.path);
  }

  async #exclusive<T>(work: () => Promise<T>): Promise<T> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const handle = await open(this.#lock, "wx", 0o600);
        await handle.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        // A lock left by a process that died mid-refresh.
        const age = await stat(this.#lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (age > LOCK_STALE_MS) await rm(this.#lock, { force: true });
        else if (Date.now() > deadline) throw new Error(`${this.#lock} is held by another vigil process`);
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    try {
      return await work();
    } finally {
      await rm(this.#lock, { force: true });
    }
  }
}
