import { parseArgs } from "node:util";
import {
  ARCHIVE_PREFIX,
  type ArchiveManifest,
  manifestsOverlapping,
  openArchiveStore,
  restoreReadings,
} from "@vigil/archive";
import { DAY_MS, type VigilDatabase } from "@vigil/db";
import { UsageError } from "../usage-error.ts";

export const ARCHIVE_USAGE = `vigil archive restore --from TIME --to TIME [--hold-days 30] [--archive URL]
  Loads archived readings with time in [from, to) back into the database, exactly as
  archived, and keeps them from retention for --hold-days. TIME: ISO 8601 (2025-01-03
  or 2025-01-03T12:00:00Z).
vigil archive list [--from TIME] [--to TIME] [--archive URL]
  Lists the archived chunks (manifests) overlapping the range.
  The archive is --archive or ARCHIVE_URL (s3://bucket[/prefix] or file:<dir>), with
  ARCHIVE_S3_ENDPOINT, ARCHIVE_S3_REGION, ARCHIVE_S3_FORCE_PATH_STYLE and the AWS
  credential variables for S3.`;

/** `vigil archive …` */
export async function archiveCommand(
  database: VigilDatabase,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<unknown> {
  const [action, ...rest] = args;
  if (action !== "restore" && action !== "list") {
    throw new UsageError(`unknown archive command ${action ?? "(none)"}\n${ARCHIVE_USAGE}`);
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      "hold-days": { type: "string", default: "30" },
      archive: { type: "string" },
    },
    strict: true,
  });
  const url = values.archive ?? env.ARCHIVE_URL;
  if (!url) throw new UsageError(`no archive: pass --archive or set ARCHIVE_URL\n${ARCHIVE_USAGE}`);
  const store = openArchiveStore(url, {
    endpoint: env.ARCHIVE_S3_ENDPOINT || undefined,
    region: env.ARCHIVE_S3_REGION || undefined,
    forcePathStyle: env.ARCHIVE_S3_FORCE_PATH_STYLE === "true" || env.ARCHIVE_S3_FORCE_PATH_STYLE === "1",
  });
  const fromMs = values.from === undefined ? undefined : time("--from", values.from);
  const toMs = values.to === undefined ? undefined : time("--to", values.to);

  if (action === "list") {
    const found = manifestsOverlapping(
      await store.list(ARCHIVE_PREFIX),
      fromMs ?? Number.NEGATIVE_INFINITY,
      toMs ?? Number.POSITIVE_INFINITY,
    );
    const out = [];
    for (const { key } of found) {
      const m = JSON.parse((await store.getText(key)) ?? "null") as ArchiveManifest | null;
      if (m)
        out.push({
          manifest: key,
          rangeStart: m.rangeStart,
          rangeEnd: m.rangeEnd,
          rows: m.rows,
          exportedAt: m.exportedAt,
        });
    }
    return out;
  }

  if (fromMs === undefined || toMs === undefined)
    throw new UsageError(`--from and --to are required\n${ARCHIVE_USAGE}`);
  if (fromMs >= toMs) throw new UsageError("--from must be before --to");
  const holdDays = Number(values["hold-days"]);
  if (!Number.isFinite(holdDays) || holdDays < 0) throw new UsageError("--hold-days must be a number of days");
  return restoreReadings(database.db, store, { fromMs, toMs, holdMs: holdDays * DAY_MS, actor: "cli" });
}

function time(flag: string, text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} must be an ISO 8601 time, got ${JSON.stringify(text)}`);
  return ms;
}
