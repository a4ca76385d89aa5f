/**
 * Encoded ReadingBatch messages of a chosen size in each legal encoding, for
 * the codec's tests, `npm run bench:codec` and `npm run bench:abuse`. Every
 * series holds one reading per second from `startMs`.
 */

export type SampleEncoding = "packed" | "unpacked" | "chunked";

function varint(out: number[], v: number): void {
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function double(out: number[], v: number): void {
  for (const b of new Uint8Array(new Float64Array([v]).buffer)) out.push(b);
}

function lengthDelimited(out: number[], fieldNumber: number, body: number[]): void {
  varint(out, (fieldNumber << 3) | 2);
  varint(out, body.length);
  for (const b of body) out.push(b);
}

/**
 * One series' fields with `n` readings:
 * - packed: one packed chunk for times and one for values (what encoders write);
 * - unpacked: every time and every value its own field (legal proto2 style);
 * - chunked: every reading in its own one-element packed chunk (legal, and
 *   what made the old decoder quadratic).
 */
function seriesBody(sensor: string, n: number, startMs: number, encoding: SampleEncoding): number[] {
  const out: number[] = [];
  lengthDelimited(out, 1, [...new TextEncoder().encode(sensor)]);
  if (encoding === "packed") {
    const times: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < n; i++) {
      varint(times, startMs + i * 1000);
      double(values, 20 + (i % 10) / 10);
    }
    lengthDelimited(out, 2, times);
    lengthDelimited(out, 3, values);
    return out;
  }
  for (let i = 0; i < n; i++) {
    if (encoding === "unpacked") {
      varint(out, (2 << 3) | 0);
      varint(out, startMs + i * 1000);
      varint(out, (3 << 3) | 1);
      double(out, 20 + (i % 10) / 10);
    } else {
      const t: number[] = [];
      varint(t, startMs + i * 1000);
      lengthDelimited(out, 2, t);
      const v: number[] = [];
      double(v, 20 + (i % 10) / 10);
      lengthDelimited(out, 3, v);
    }
  }
  return out;
}

/** Bytes one reading takes in an encoding (a 13-digit ms time, a double). */
const READING_BYTES: Record<SampleEncoding, number> = { packed: 14, unpacked: 16, chunked: 18 };

/**
 * A ReadingBatch of about `bytes` bytes in `encoding`, spread over `series`
 * sensors ("s0", "s1", …).
 */
export function sampleBatchBytes(options: {
  bytes: number;
  encoding: SampleEncoding;
  seq?: number;
  series?: number;
  startMs?: number;
}): Uint8Array {
  const seriesCount = options.series ?? 1;
  const startMs = options.startMs ?? 1_767_225_600_000;
  const perSeries = Math.max(
    1,
    Math.floor((options.bytes - 16 * seriesCount) / seriesCount / READING_BYTES[options.encoding]),
  );
  const out: number[] = [];
  varint(out, (1 << 3) | 0);
  varint(out, options.seq ?? 1);
  for (let s = 0; s < seriesCount; s++) {
    lengthDelimited(out, 2, seriesBody(`s${s}`, perSeries, startMs, options.encoding));
  }
  return Uint8Array.from(out);
}
