/**
 * A columnar codec for vigil.ingest.v1.ReadingBatch, wire-compatible with
 * the generated code, for the ingest hot path. protobuf-es decodes every
 * int64 time into a BigInt (one heap object per reading); this codec reads
 * times and values into two Float64Arrays per series instead, and writes
 * them back without intermediate objects. Times are milliseconds, exact as
 * JS numbers up to 2^53.
 */

/** One sensor's readings: times[i] (ms since epoch) pairs with values[i]. */
export interface ColumnarSeries {
  sensor: string;
  times: Float64Array;
  values: Float64Array;
}

export interface ColumnarBatch {
  seq: number;
  series: ColumnarSeries[];
  /** W3C traceparent of the device's span for this batch, when it sent one. */
  traceparent?: string;
}

const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_63 = 2 ** 63;
const TWO_POW_64 = 2 ** 64;
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** Thrown for bytes that are not a valid ReadingBatch. */
export class DecodeError extends Error {
  override name = "DecodeError";
}

class Reader {
  pos: number;
  readonly buf: Uint8Array;
  end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** A varint as a JS number (exact below 2^53; int64 negatives wrap). */
  varint(): number {
    let lo = 0;
    let shift = 0;
    let b: number;
    // Low 28 bits with cheap integer maths, the rest with multiplication.
    do {
      if (this.pos >= this.end) throw new DecodeError("truncated varint");
      b = this.buf[this.pos++]!;
      lo |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 28);
    let value = lo >>> 0;
    let scale = 268_435_456; // 2^28
    while (b & 0x80) {
      if (this.pos >= this.end || shift >= 70) throw new DecodeError("bad varint");
      b = this.buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      scale *= 128;
      shift += 7;
    }
    return value >= TWO_POW_63 ? value - TWO_POW_64 : value;
  }

  length(): number {
    const len = this.varint();
    if (len < 0 || this.pos + len > this.end) throw new DecodeError("length exceeds message");
    return len;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE.VARINT:
        this.varint();
        return;
      case WIRE.I64:
        this.advance(8);
        return;
      case WIRE.LEN:
        this.advance(this.length());
        return;
      case WIRE.I32:
        this.advance(4);
        return;
      default:
        throw new DecodeError(`unsupported wire type ${wireType}`);
    }
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw new DecodeError("truncated field");
    this.pos += n;
  }
}

/**
 * Bounds on what one decoded batch may hold, checked while decoding (before
 * anything is allocated for them): a hostile message is refused after the
 * work its first over-limit field costs, not after building it whole.
 */
export interface DecodeLimits {
  /** Most series in a batch. */
  maxSeries: number;
  /** Most times, and most values, in one series. */
  maxSeriesValues: number;
}

/**
 * What decoders that are not the first line use (writers, watchers, replay):
 * at least every receiver setting allows, so a batch a receiver accepted
 * always decodes.
 */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxSeries: 100_000,
  maxSeriesValues: 1_000_000,
});

/** Thrown when a well-formed batch holds more than a DecodeLimits bound allows. */
export class DecodeLimitError extends DecodeError {
  override name = "DecodeLimitError";
  /** Which bound: "series" (too many series) or "series_values" (too many readings in one series). */
  readonly limit: "series" | "series_values";
  /** The batch's seq when it came before the field over the limit (as encoders write it), else 0. */
  seq = 0;

  constructor(limit: DecodeLimitError["limit"], message: string) {
    super(message);
    this.limit = limit;
  }
}

/**
 * Decodes ReadingBatch bytes; throws DecodeError on malformed input and
 * DecodeLimitError past `limits`. Linear in the message size whatever the
 * encoding: repeated fields, packed in any number of chunks or unpacked
 * (as proto3 parsers must accept), are appended to one growing column per
 * field, never re-joined.
 */
export function decodeReadingBatch(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): ColumnarBatch {
  const batch: ColumnarBatch = { seq: 0, series: [] };
  try {
    decodeInto(batch, bytes, limits);
  } catch (err) {
    if (err instanceof DecodeLimitError) err.seq = batch.seq;
    throw err;
  }
  return batch;
}

function decodeInto(batch: ColumnarBatch, bytes: Uint8Array, limits: DecodeLimits): void {
  const r = new Reader(bytes);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === WIRE.VARINT) batch.seq = r.varint();
    else if (field === 2 && wire === WIRE.LEN) {
      const len = r.length();
      if (batch.series.length >= limits.maxSeries) {
        throw new DecodeLimitError("series", `batch has more than ${limits.maxSeries} series`);
      }
      batch.series.push(decodeSeries(bytes, r.pos, r.pos + len, limits.maxSeriesValues));
      r.pos += len;
    } else if (field === 3 && wire === WIRE.LEN) {
      const len = r.length();
      batch.traceparent = utf8(bytes.subarray(r.pos, r.pos + len), "traceparent");
      r.pos += len;
    } else r.skip(wire);
  }
}

const EMPTY = new Float64Array(0);

/** Numbers a column pushed one at a time first makes room for. */
const FIRST_PUSH_CAPACITY = 16;

/**
 * One repeated field of a series: a Float64Array that grows by doubling, so
 * appending n numbers in any number of pieces costs O(n). The usual message
 * (one packed chunk per field) fills it in one allocation, returned as is.
 */
class Column {
  private buf: Float64Array = EMPTY;
  private n = 0;
  private readonly max: number;
  private readonly field: string;

  constructor(max: number, field: string) {
    this.max = max;
    this.field = field;
  }

  /** Room for `extra` more numbers; returns where they start. */
  reserve(extra: number): number {
    const at = this.n;
    const need = at + extra;
    if (need > this.buf.length) this.grow(need);
    this.n = need;
    return at;
  }

  get array(): Float64Array {
    return this.buf;
  }

  push(v: number): void {
    if (this.n === this.buf.length) {
      // One number at a time (the unpacked encoding): start with room for several, or a small
      // message pays an allocation for 1, 2, 4, 8… of them (twice the CPU of a 1 KiB message).
      const need = this.n + 1;
      this.grow(need > this.max ? need : Math.min(this.max, Math.max(need, FIRST_PUSH_CAPACITY)));
    }
    this.buf[this.n++] = v;
  }

  done(): Float64Array {
    return this.n === this.buf.length ? this.buf : this.buf.slice(0, this.n);
  }

  private grow(need: number): void {
    if (need > this.max) {
      throw new DecodeLimitError("series_values", `a series has more than ${this.max} ${this.field}`);
    }
    const at = this.n;
    const grown = new Float64Array(at === 0 ? need : Math.min(this.max, Math.max(need, this.buf.length * 2)));
    grown.set(this.buf.subarray(0, at));
    this.buf = grown;
  }
}

function decodeSeries(bytes: Uint8Array, start: number, end: number, maxValues: number): ColumnarSeries {
  const r = new Reader(bytes, start, end);
  let sensor = "";
  const times = new Column(maxValues, "times");
  const values = new Column(maxValues, "values");
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === WIRE.LEN) {
      const len = r.length();
      sensor = utf8(bytes.subarray(r.pos, r.pos + len), "sensor");
      r.pos += len;
    } else if (field === 2 && wire === WIRE.LEN) {
      packedVarints(r, r.length(), times);
    } else if (field === 2 && wire === WIRE.VARINT) {
      times.push(r.varint());
    } else if (field === 3 && wire === WIRE.LEN) {
      packedDoubles(r, r.length(), values);
    } else if (field === 3 && wire === WIRE.I64) {
      values.push(readDouble(r));
    } else r.skip(wire);
  }
  return { sensor, times: times.done(), values: values.done() };
}

function utf8(bytes: Uint8Array, field: string): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new DecodeError(`${field} is not valid UTF-8`);
  }
}

function packedVarints(r: Reader, len: number, into: Column): void {
  const end = r.pos + len;
  // A varint ends at a byte without the high bit: that counts them.
  let count = 0;
  for (let i = r.pos; i < end; i++) if ((r.buf[i]! & 0x80) === 0) count++;
  const at = into.reserve(count);
  const out = into.array;
  // Read within the chunk: a varint must not run past it.
  const outer = r.end;
  r.end = end;
  for (let i = 0; i < count; i++) out[at + i] = r.varint();
  r.end = outer;
  if (r.pos !== end) throw new DecodeError("truncated packed varints");
}

function packedDoubles(r: Reader, len: number, into: Column): void {
  if (len % 8 !== 0) throw new DecodeError("packed doubles length is not a multiple of 8");
  if (len === 8) {
    into.push(readDouble(r));
    return;
  }
  const at = into.reserve(len / 8);
  // One copy: Float64Array needs 8-byte alignment the wire does not give.
  new Uint8Array(into.array.buffer, at * 8, len).set(r.buf.subarray(r.pos, r.pos + len));
  r.pos += len;
}

/** One little-endian double, through a scratch buffer (no view per value). */
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);

function readDouble(r: Reader): number {
  r.advance(8);
  const b = r.buf;
  const p = r.pos - 8;
  for (let i = 0; i < 8; i++) scratchBytes[i] = b[p + i]!;
  return scratch[0]!;
}

/** Encodes a batch as ReadingBatch bytes (packed, as proto3 prescribes). */
export function encodeReadingBatch(batch: ColumnarBatch): Uint8Array {
  const plan = planBatch(batch);
  const w = new Writer(plan.size);
  writeBatch(w, batch, plan);
  return w.buf;
}

/** Encodes a batch wrapped as a StreamRequest (field 2), in one buffer. */
export function encodeBatchStreamRequest(batch: ColumnarBatch): Uint8Array {
  const plan = planBatch(batch);
  const w = new Writer(1 + varintSize(plan.size) + plan.size);
  w.varint((2 << 3) | WIRE.LEN);
  w.varint(plan.size);
  writeBatch(w, batch, plan);
  return w.buf;
}

interface SeriesPlan {
  sensor: Uint8Array;
  timesSize: number;
  size: number;
}

function planBatch(batch: ColumnarBatch): { size: number; series: SeriesPlan[]; traceparent?: Uint8Array } {
  let size = batch.seq === 0 ? 0 : 1 + varintSize(batch.seq);
  const traceparent = batch.traceparent ? utf8Encoder.encode(batch.traceparent) : undefined;
  if (traceparent) size += 1 + varintSize(traceparent.length) + traceparent.length;
  const series = batch.series.map((s) => {
    const sensor = utf8Encoder.encode(s.sensor);
    let timesSize = 0;
    for (let i = 0; i < s.times.length; i++) timesSize += varintSize(s.times[i]!);
    const valuesSize = s.values.length * 8;
    const body =
      (sensor.length ? 1 + varintSize(sensor.length) + sensor.length : 0) +
      (timesSize ? 1 + varintSize(timesSize) + timesSize : 0) +
      (valuesSize ? 1 + varintSize(valuesSize) + valuesSize : 0);
    size += 1 + varintSize(body) + body;
    return { sensor, timesSize, size: body };
  });
  return { size, series, traceparent };
}

function writeBatch(w: Writer, batch: ColumnarBatch, plan: { series: SeriesPlan[]; traceparent?: Uint8Array }): void {
  if (batch.seq !== 0) {
    w.varint((1 << 3) | WIRE.VARINT);
    w.varint(batch.seq);
  }
  batch.series.forEach((s, i) => {
    const p = plan.series[i]!;
    w.varint((2 << 3) | WIRE.LEN);
    w.varint(p.size);
    if (p.sensor.length) {
      w.varint((1 << 3) | WIRE.LEN);
      w.varint(p.sensor.length);
      w.bytes(p.sensor);
    }
    if (p.timesSize) {
      w.varint((2 << 3) | WIRE.LEN);
      w.varint(p.timesSize);
      for (let j = 0; j < s.times.length; j++) w.varint(s.times[j]!);
    }
    if (s.values.length) {
      w.varint((3 << 3) | WIRE.LEN);
      w.varint(s.values.length * 8);
      w.bytes(new Uint8Array(s.values.buffer, s.values.byteOffset, s.values.length * 8));
    }
  });
  if (plan.traceparent) {
    w.varint((3 << 3) | WIRE.LEN);
    w.varint(plan.traceparent.length);
    w.bytes(plan.traceparent);
  }
}

function varintSize(v: number): number {
  if (v < 0) return 10;
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

class Writer {
  readonly buf: Uint8Array;
  pos = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  varint(v: number): void {
    if (v < 0) v += TWO_POW_64; // int64 negatives: ten-byte two's complement
    while (v >= TWO_POW_32) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    let x = v >>> 0;
    while (x >= 128) {
      this.buf[this.pos++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    this.buf[this.pos++] = x;
  }

  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}
