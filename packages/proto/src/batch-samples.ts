/**
 * Encoded ReadingBatch messages of a chosen size in each legal encoding, for
 * the codec's tests, `npm run bench:codec` and `npm run bench:abuse`. Every
 * series holds one reading per second from `startMs`.
 */

export type SampleEncoding = "packed" | "unpacked" | "chunked";

/** Appends protobuf wire bytes to a buffer that grows by doubling. */
class ByteWriter {
  buf = new Uint8Array(1024);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.pos + n, this.buf.length * 2));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  varint(v: number): void {
    this.room(10);
    while (v >= 128) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  double(v: number): void {
    this.room(8);
    scratch[0] = v;
    this.buf.set(scratchBytes, this.pos);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A length-delimited field whose body `write` appends. */
  field(fieldNumber: number, write: (w: ByteWriter) => void): void {
    const body = new ByteWriter();
    write(body);
    this.varint((fieldNumber << 3) | 2);
    this.varint(body.pos);
    this.bytes(body.buf.subarray(0, body.pos));
  }
}

const value = (i: number) => 20 + (i % 10) / 10;
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/**
 * One series' fields with `n` readings:
 * - packed: one packed chunk for times and one for values (what encoders write);
 * - unpacked: every time and every value its own field (legal proto2 style);
 * - chunked: every reading in its own one-element packed chunk (legal, and
 *   what made the old decoder quadratic).
 */
function writeSeries(w: ByteWriter, sensor: string, n: number, startMs: number, encoding: SampleEncoding): void {
  w.field(1, (b) => b.bytes(new TextEncoder().encode(sensor)));
  if (encoding === "packed") {
    w.field(2, (b) => {
      for (let i = 0; i < n; i++) b.varint(startMs + i * 1000);
    });
    w.field(3, (b) => {
      for (let i = 0; i < n; i++) b.double(value(i));
    });
    return;
  }
  for (let i = 0; i < n; i++) {
    if (encoding === "unpacked") {
      w.varint((2 << 3) | 0);
      w.varint(startMs + i * 1000);
      w.varint((3 << 3) | 1);
      w.double(value(i));
    } else {
      const t = startMs + i * 1000;
      w.varint((2 << 3) | 2);
      w.varint(varintSize(t));
      w.varint(t);
      w.varint((3 << 3) | 2);
      w.varint(8);
      w.double(value(i));
    }
  }
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
  const w = new ByteWriter();
  w.varint((1 << 3) | 0);
  w.varint(options.seq ?? 1);
  for (let s = 0; s < seriesCount; s++) {
    w.field(2, (b) => writeSeries(b, `s${s}`, perSeries, startMs, options.encoding));
  }
  return w.buf.slice(0, w.pos);
}
