import { Command } from "@commander-js/extra-typings";
import type { ArchiveManifest } from "@vigil/archive";
import type { Cli } from "../cli.ts";
import { integer, time } from "../flags.ts";
import { UsageError } from "../usage-error.ts";

const ARCHIVE_HELP =
  "The archive is --archive or ARCHIVE_URL (s3://bucket[/prefix] or file:<dir>), with ARCHIVE_S3_ENDPOINT, ARCHIVE_S3_REGION, ARCHIVE_S3_FORCE_PATH_STYLE and the AWS credential variables for S3.";

/** `vigil archive …`: the cold archive; restore is database-level work (DATABASE_URL). */
export function archiveCommand(cli: Cli) {
  const archive = new Command("archive")
    .description("readings archived to cold storage")
    .addHelpText("after", `\n${ARCHIVE_HELP}`);
  // The archive's libraries (S3, Parquet) are loaded only by these commands.
  const store = async (flag: string | undefined) => {
    const url = flag ?? cli.io.env.ARCHIVE_URL;
    if (!url) throw new UsageError("no archive: pass --archive or set ARCHIVE_URL");
    const env = cli.io.env;
    const { openArchiveStore } = await import("@vigil/archive");
    return openArchiveStore(url, {
      endpoint: env.ARCHIVE_S3_ENDPOINT || undefined,
      region: env.ARCHIVE_S3_REGION || undefined,
      forcePathStyle: env.ARCHIVE_S3_FORCE_PATH_STYLE === "true" || env.ARCHIVE_S3_FORCE_PATH_STYLE === "1",
    });
  };

  archive
    .command("list")
    .description("the archived chunks (manifests) overlapping a range")
    .option("--from <time>", "ISO 8601 time, such as 2025-01-03 or 2025-01-03T12:00:00Z", time)
    .option("--to <time>", "ISO 8601 time", time)
    .option("--archive <url>", "the archive (default ARCHIVE_URL)")
    .action(async (o) => {
      const archived = await store(o.archive);
      const { ARCHIVE_PREFIX, manifestsOverlapping } = await import("@vigil/archive");
      const found = manifestsOverlapping(
        await archived.list(ARCHIVE_PREFIX),
        o.from ?? Number.NEGATIVE_INFINITY,
        o.to ?? Number.POSITIVE_INFINITY,
      );
      const rows = [];
      for (const { key } of found) {
        const m = JSON.parse((await archived.getText(key)) ?? "null") as ArchiveManifest | null;
        if (m) {
          rows.push({
            manifest: key,
            rangeStart: m.rangeStart,
            rangeEnd: m.rangeEnd,
            rows: m.rows,
            exportedAt: m.exportedAt,
          });
        }
      }
      cli.output.list(rows, ["manifest", "rangeStart", "rangeEnd", "rows", "exportedAt"]);
    });

  archive
    .command("restore")
    .summary("load an archived range back into the database (DATABASE_URL)")
    .description(
      "load archived readings with time in [from, to) back into the database (DATABASE_URL), exactly as archived, and keep them from retention for --hold-days",
    )
    .requiredOption("--from <time>", "ISO 8601 time, such as 2025-01-03 or 2025-01-03T12:00:00Z", time)
    .requiredOption("--to <time>", "ISO 8601 time", time)
    .option("--hold-days <days>", "days the restored range is kept from retention", integer(0, 36_500), 30)
    .option("--archive <url>", "the archive (default ARCHIVE_URL)")
    .action(async (o) => {
      if (o.from >= o.to) throw new UsageError("--from must be before --to");
      const archived = await store(o.archive);
      const database = await cli.database();
      const { restoreReadings } = await import("@vigil/archive");
      const progress = cli.progress("restoring", 1);
      try {
        const outcome = await restoreReadings(database.db, archived, {
          fromMs: o.from,
          toMs: o.to,
          holdMs: o.holdDays * 86_400_000,
          actor: `cli:${cli.io.osUser}`,
          onProgress: (p) => progress.update(p.filesDone, `${p.rows} readings`, Math.max(1, p.files)),
        });
        progress.stop();
        cli.output.object({ ...outcome });
      } finally {
        progress.stop();
      }
    });

  return archive;
}
