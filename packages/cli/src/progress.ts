import type { Writable } from "node:stream";
import { Presets, SingleBar } from "cli-progress";

/** Progress of a long job (bulk device creation, archive restore, demo seed). */
export interface Progress {
  /** Moves the bar to `done` of `total` (total may grow as the job learns it), with a short status. */
  update(done: number, status?: string, total?: number): void;
  /** Removes the bar. */
  stop(): void;
}

/**
 * A progress bar on stderr (cli-progress) when stderr is a terminal;
 * nothing otherwise, so logs and scripts stay clean. stdout is left to the
 * result.
 */
export function progressBar(stderr: Writable & { isTTY?: boolean }, label: string, total: number): Progress {
  if (!stderr.isTTY) return { update() {}, stop() {} };
  const bar = new SingleBar(
    {
      stream: stderr,
      format: `${label} {bar} {value}/{total} {status}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0, { status: "" });
  let stopped = false;
  return {
    update(done, status = "", newTotal) {
      if (newTotal !== undefined) bar.setTotal(newTotal);
      bar.update(done, { status });
    },
    stop() {
      if (!stopped) bar.stop();
      stopped = true;
    },
  };
}
