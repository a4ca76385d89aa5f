import type { ColumnarBatch } from "@vigil/proto";

/** A decoded batch with what the log knows about it. */
export interface DecodedDelivery {
  deviceId: number;
  storedAtMs: number;
  /** reading_sources id from the batch's headers (provenance); null when it carried none. */
  sourceId: number | null;
  batch: ColumnarBatch;
}

/**
 * The readings of many batches as PostgreSQL array literals, one per
 * column, for a single `INSERT … SELECT FROM unnest(…)`. Building the text
 * directly from the Float64Arrays skips pg's per-element conversion.
 */
export interface ReadingColumns {
  rows: number;
  timesMs: string;
  values: string;
  seqs: string;
  receivedAtMs: string;
  deviceIds: string;
  sensorIds: string;
  sourceIds: string;
}

export function toReadingColumns(deliveries: DecodedDelivery[], sensorIds: Map<string, number>): ReadingColumns {
  const times: string[] = [];
  const values: string[] = [];
  const seqs: string[] = [];
  const received: string[] = [];
  const devices: string[] = [];
  const sensors: string[] = [];
  const sources: string[] = [];
  let rows = 0;
  for (const d of deliveries) {
    for (const s of d.batch.series) {
      const n = s.values.length;
      if (n === 0) continue;
      const sensorId = sensorIds.get(s.sensor);
      if (sensorId === undefined) throw new Error(`sensor ${s.sensor} has no id`);
      rows += n;
      times.push(s.times.join(","));
      values.push(s.values.join(","));
      seqs.push(repeat(d.batch.seq, n));
      received.push(repeat(d.storedAtMs, n));
      devices.push(repeat(d.deviceId, n));
      sensors.push(repeat(sensorId, n));
      sources.push(repeat(d.sourceId ?? "NULL", n));
    }
  }
  const literal = (parts: string[]) => `{${parts.join(",")}}`;
  return {
    rows,
    timesMs: literal(times),
    values: literal(values),
    seqs: literal(seqs),
    receivedAtMs: literal(received),
    deviceIds: literal(devices),
    sensorIds: literal(sensors),
    sourceIds: literal(sources),
  };
}

function repeat(value: number | string, n: number): string {
  const s = `${value},`;
  return s.repeat(n).slice(0, -1);
}
