import { openRawStream } from "./raw-stream.ts";

export interface DeviceFeedOptions {
  /** Receiver gRPC port on 127.0.0.1. */
  port: number;
  apiKey: string;
  sensors: string[];
  /** Samples per second of each sensor. */
  hz: number;
  /** Time between batches (each carries the samples since the last one). */
  intervalMs: number;
}

export interface DeviceFeed {
  /** Batches sent so far. */
  readonly sent: number;
  stop(): Promise<void>;
}

/**
 * One device streaming synthetic readings in real time: every sensor a
 * smooth wave with noise at `hz` samples per second, sent in one batch every
 * `intervalMs`, resuming above the receiver's last durable seq. For browser
 * tests and the console benchmark (20 sensors at 10 Hz).
 */
export async function startDeviceFeed(options: DeviceFeedOptions): Promise<DeviceFeed> {
  const stream = openRawStream(options.port, options.apiKey);
  stream.hello();
  const welcome = await stream.next();
  if (welcome.kind.case !== "welcome") throw new Error(`expected Welcome, got ${welcome.kind.case}`);
  let seq = Number(welcome.kind.value.lastDurableSeq) + 1;
  let stopped = false;
  let sent = 0;
  const spacing = 1000 / options.hz;
  let next = Math.floor(Date.now() / spacing) * spacing;
  // Acks are read and dropped, so nothing queues up.
  const drain = (async () => {
    while (!stopped) await stream.next(1_000).catch(() => undefined);
  })();
  const timer = setInterval(() => {
    const times: number[] = [];
    for (const now = Date.now(); next <= now; next += spacing) times.push(Math.round(next));
    if (times.length === 0) return;
    stream.batch({
      seq: seq++,
      series: options.sensors.map((sensor, i) => ({
        sensor,
        times: Float64Array.from(times),
        values: Float64Array.from(times, (t) => 50 + 20 * Math.sin(t / 5_000 + i) + Math.random()),
      })),
    });
    sent++;
  }, options.intervalMs);
  return {
    get sent() {
      return sent;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      stream.end();
      await Promise.race([stream.status, new Promise((r) => setTimeout(r, 2_000))]);
      stream.close();
      await drain;
    },
  };
}
