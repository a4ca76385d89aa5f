import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ReadingBus, StoredBatch } from "@vigil/bus";
import { decodeReadingBatch, type Reading, ReadingSchema, type WatchReadingsResponse } from "@vigil/proto";
import type { ReadingFilter } from "./reading-filter.ts";

/** How long a dropped watcher gets to read its error before its connection is cut. */
export const STALLED_WATCHER_CUTOFF_MS = 5_000;

/**
 * New readings for a filter, straight from the log's subjects (no database
 * polling). The log is read into a bounded buffer as fast as it delivers;
 * a client that falls `maxBuffered` batches behind is dropped with
 * ResourceExhausted instead of slowing anyone else down. A client that
 * reads nothing at all cannot even receive that status (its stream is
 * blocked behind unread data), so `cut` resets its stream after a while.
 */
export async function* watchReadings(
  bus: ReadingBus,
  filter: ReadingFilter,
  signal: AbortSignal,
  maxBuffered: number,
  cut: () => void,
  /** "CODE-N" of the devices a site, kind or labels filter selected when the watch started. */
  devices?: ReadonlySet<string>,
): AsyncGenerator<WatchReadingsResponse> {
  const watch = bus.watch({ code: filter.deviceCode, number: filter.deviceNumber });
  const buffer: StoredBatch[] = [];
  let failure: Error | undefined;
  let finished = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const pump = (async () => {
    try {
      for await (const batch of watch) {
        buffer.push(batch);
        if (buffer.length > maxBuffered) {
          failure = new ConnectError(
            `the client fell more than ${maxBuffered} batches behind the watched readings: reconnect, or narrow the filter`,
            Code.ResourceExhausted,
          );
          buffer.length = 0;
          setTimeout(() => {
            if (!finished) cut();
          }, STALLED_WATCHER_CUTOFF_MS).unref();
          break;
        }
        notify();
      }
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
    } finally {
      notify();
    }
  })();
  const onAbort = () => {
    watch.stop();
    notify();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (!signal.aborted) {
      if (failure) throw failure;
      const batch = buffer.shift();
      if (!batch) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      if (devices && !devices.has(`${batch.device.code}-${batch.device.number}`)) continue;
      const readings = toReadings(batch, filter.sensor);
      if (readings.length > 0) yield { $typeName: "vigil.readings.v1.WatchReadingsResponse", readings };
    }
  } finally {
    finished = true;
    signal.removeEventListener("abort", onAbort);
    watch.stop();
    await pump;
  }
}

function toReadings(batch: StoredBatch, sensor: string | undefined): Reading[] {
  let decoded: ReturnType<typeof decodeReadingBatch>;
  try {
    decoded = decodeReadingBatch(batch.payload);
  } catch {
    return []; // a poison message: the writer sets it aside; the watch skips it
  }
  const out: Reading[] = [];
  const receivedAt = timestampFromMs(Math.floor(batch.storedAtMs));
  for (const s of decoded.series) {
    if (sensor !== undefined && s.sensor !== sensor) continue;
    for (let i = 0; i < s.values.length; i++) {
      out.push(
        create(ReadingSchema, {
          deviceCode: batch.device.code,
          deviceNumber: batch.device.number,
          sensor: s.sensor,
          time: timestampFromMs(s.times[i]!),
          value: s.values[i]!,
          seq: BigInt(decoded.seq),
          receivedAt,
        }),
      );
    }
  }
  return out;
}
