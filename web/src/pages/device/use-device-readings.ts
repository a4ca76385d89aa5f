import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { useTransport } from "@connectrpc/connect-query";
import { Order, type Reading, ReadingService } from "@vigil/proto";
import { useEffect, useMemo, useRef, useState } from "react";
import { DeviceReadings, type Point } from "./device-readings.ts";
import type { BucketRow } from "./sensor-series.ts";
import { bucketText, chooseBucketMs, RAW_MAX_TOTAL, rangeOf, spanOf, type View } from "./view-range.ts";

type Readings = Client<typeof ReadingService>;

export interface DeviceRef {
  code: string;
  number: number;
}

export type LiveState = "off" | "connecting" | "live" | "reconnecting";

export interface DeviceReadingsState {
  /** The charted readings; replaced when the view changes. */
  store: DeviceReadings | undefined;
  loading: boolean;
  error: unknown;
  live: LiveState;
}

const PAGE_SIZE = 1000;
/** Raw pages fetched at most before the chart switches to aggregates. */
const MAX_RAW_PAGES = Math.ceil(RAW_MAX_TOTAL / PAGE_SIZE);
/** Live readings kept to seed the next view's history (covers the time its first query takes). */
const RECENT_MS = 30_000;

/**
 * The readings a device page charts: history for the view (raw readings
 * when there are few enough, GetStats buckets otherwise: decided by itself
 * from the density of the newest page of readings), then, while the view is live, every new reading
 * from WatchReadings. The watch stays open across view changes; it
 * reconnects with backoff, and reloads the history after a break so the gap
 * is filled from the database instead of being drawn as missing.
 */
export function useDeviceReadings(device: DeviceRef, view: View): DeviceReadingsState {
  const transport = useTransport();
  const client = useMemo(() => createClient(ReadingService, transport), [transport]);
  const [store, setStore] = useState<DeviceReadings>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const [live, setLive] = useState<LiveState>("off");
  const [reloads, setReloads] = useState(0);
  const current = useRef<DeviceReadings | undefined>(undefined);
  const recent = useRef<Point[]>([]);
  const viewKey = view.live ? `live:${view.spanMs}` : `${view.startMs}-${view.endMs}`;

  // History for the view.
  // biome-ignore lint/correctness/useExhaustiveDependencies: viewKey stands for view; reloads forces a reload.
  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    setError(undefined);
    const publish = (s: DeviceReadings) => {
      if (abort.signal.aborted) return;
      // Live readings that came while the history loaded (the same reading twice is kept once).
      if (view.live) s.add(recent.current);
      s.redraw();
      current.current = s;
      setStore(s);
    };
    loadHistory(client, device, view, abort.signal, publish)
      .then(() => setLoading(false))
      .catch((err) => {
        if (abort.signal.aborted) return;
        setError(err);
        setLoading(false);
      });
    return () => abort.abort();
  }, [client, device.code, device.number, viewKey, reloads]);

  // Live readings.
  const { code, number } = device;
  useEffect(() => {
    if (!view.live) {
      setLive("off");
      return;
    }
    const abort = new AbortController();
    void watch(client, { code, number }, abort.signal, {
      state: setLive,
      readings: (points) => {
        const now = Date.now();
        const kept = recent.current.filter((p) => p.timeMs > now - RECENT_MS);
        kept.push(...points);
        recent.current = kept;
        current.current?.add(points);
      },
      reconnected: () => setReloads((n) => n + 1),
    });
    return () => abort.abort();
  }, [client, code, number, view.live]);

  // A live window moves on even without readings.
  const liveSpan = view.live ? view.spanMs : 0;
  useEffect(() => {
    if (!liveSpan || !store) return;
    const t = setInterval(() => {
      store.trimBefore(Date.now() - liveSpan);
      store.redraw();
    }, 1_000);
    return () => clearInterval(t);
  }, [store, liveSpan]);

  return { store, loading, error, live };
}

async function loadHistory(
  client: Readings,
  device: DeviceRef,
  view: View,
  signal: AbortSignal,
  publish: (s: DeviceReadings) => void,
): Promise<void> {
  const { startMs, endMs } = rangeOf(view, Date.now());
  const filter = {
    deviceCode: device.code,
    deviceNumber: device.number,
    startTime: timestampFromMs(Math.floor(startMs)),
    // A live view's end is open: readings stamped a little ahead of this clock still belong.
    endTime: timestampFromMs(Math.ceil(view.live ? endMs + 60_000 : endMs)),
  };
  // Raw, newest first, drawn page by page; aggregates as soon as the first page shows there are too many.
  const times = new Map<string, number[]>();
  const values = new Map<string, number[]>();
  let pageToken = "";
  const s = new DeviceReadings(0);
  for (let page = 0; page < MAX_RAW_PAGES; page++) {
    const res = await client.listReadings(
      { filter, pageSize: PAGE_SIZE, pageToken, order: Order.NEWEST_FIRST },
      { signal },
    );
    if (page === 0 && res.nextPageToken && estimateTotal(res.readings, startMs) > RAW_MAX_TOTAL) {
      return loadBuckets(client, filter, view, signal, publish);
    }
    for (const r of res.readings) {
      let t = times.get(r.sensor);
      let v = values.get(r.sensor);
      if (!t || !v) {
        t = [];
        v = [];
        times.set(r.sensor, t);
        values.set(r.sensor, v);
      }
      t.push(readingMs(r));
      v.push(r.value);
    }
    for (const [sensor, t] of times) s.setRaw(sensor, [...t].reverse(), [...values.get(sensor)!].reverse());
    publish(s);
    pageToken = res.nextPageToken;
    if (!pageToken) return;
  }
  // More than the total promised: too many to draw raw.
  return loadBuckets(client, filter, view, signal, publish);
}

async function loadBuckets(
  client: Readings,
  filter: Parameters<Readings["getStats"]>[0]["filter"],
  view: View,
  signal: AbortSignal,
  publish: (s: DeviceReadings) => void,
): Promise<void> {
  const bucketMs = chooseBucketMs(spanOf(view));
  const res = await client.getStats({ filter, bucket: bucketText(bucketMs) }, { signal });
  const rows = new Map<string, BucketRow[]>();
  for (const b of res.buckets) {
    let r = rows.get(b.sensor);
    if (!r) {
      r = [];
      rows.set(b.sensor, r);
    }
    r.push({
      startMs: b.startTime ? timestampMs(b.startTime) : 0,
      count: Number(b.count),
      avg: b.avg,
      min: b.min,
      max: b.max,
    });
  }
  const s = new DeviceReadings(bucketMs);
  for (const [sensor, r] of rows) s.setBuckets(sensor, r);
  publish(s);
}

/**
 * Readings in [startMs, newest] judged from a full first page (newest
 * first): its density times the range. Steadier than the API's total, which
 * above 1,000 is the database planner's estimate.
 */
export function estimateTotal(page: readonly Reading[], startMs: number): number {
  const newest = page[0];
  const oldest = page.at(-1);
  if (!newest || !oldest) return 0;
  const covered = Math.max(1, readingMs(newest) - readingMs(oldest));
  return Math.round((page.length * (readingMs(newest) - startMs)) / covered);
}

function readingMs(r: Reading): number {
  return r.time ? timestampMs(r.time) : 0;
}

async function watch(
  client: Readings,
  device: DeviceRef,
  signal: AbortSignal,
  on: { state: (s: LiveState) => void; readings: (p: Point[]) => void; reconnected: () => void },
): Promise<void> {
  let backoff = 1_000;
  let broken = false;
  const current = { state: "off" as LiveState };
  const set = (s: LiveState) => {
    if (s === current.state) return;
    current.state = s;
    on.state(s);
  };
  while (!signal.aborted) {
    set(broken ? "reconnecting" : "connecting");
    try {
      const stream = client.watchReadings(
        { filter: { deviceCode: device.code, deviceNumber: device.number } },
        { signal },
      );
      for await (const res of stream) {
        if (current.state !== "live") {
          set("live");
          backoff = 1_000;
          if (broken) {
            broken = false;
            on.reconnected();
          }
        }
        on.readings(res.readings.map((r) => ({ sensor: r.sensor, timeMs: readingMs(r), value: r.value })));
      }
    } catch (err) {
      if (signal.aborted) return;
      // Refused for good (signed out, no access): stop; the page says so through its other calls.
      const code = ConnectError.from(err).code;
      if (code === Code.PermissionDenied || code === Code.InvalidArgument) {
        set("off");
        return;
      }
    }
    broken = true;
    set("reconnecting");
    await new Promise((resolve) => setTimeout(resolve, backoff + Math.random() * 500));
    backoff = Math.min(10_000, backoff * 2);
  }
}
