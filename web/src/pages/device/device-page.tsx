import { useQuery } from "@connectrpc/connect-query";
import { DeviceService } from "@vigil/proto";
import { type FormEvent, useCallback, useEffect, useId, useState, useSyncExternalStore } from "react";
import { useParams, useSearchParams } from "react-router";
import { PageHeading } from "../../app/page-heading.tsx";
import { useScopes } from "../../auth/session-context.tsx";
import { TimeChart } from "../../charts/time-chart.tsx";
import { DeviceState } from "../../ui/device-state.tsx";
import { QueryState } from "../../ui/query-state.tsx";
import { formatAgo, formatDateTime, formatSpan, fromLocalInput, ms, toLocalInput, useNow } from "../../ui/time.ts";
import { DeviceKeys } from "./device-keys.tsx";
import type { DeviceReadings } from "./device-readings.ts";
import type { SensorSeries } from "./sensor-series.ts";
import { StatsTable } from "./stats-table.tsx";
import { type DeviceRef, type LiveState, useDeviceReadings } from "./use-device-readings.ts";
import { describeBucket, PRESETS, rangeOf, spanOf, type View, zoomBy, zoomTo } from "./view-range.ts";

const DEFAULT_VIEW: View = { live: true, spanMs: PRESETS[0]!.spanMs };

/** The view in the address (?span= for live, ?from=&to= for a fixed range), so a link shows the same thing. */
function viewFromParams(params: URLSearchParams): View {
  const from = Number(params.get("from"));
  const to = Number(params.get("to"));
  if (from > 0 && to > from) return { live: false, startMs: from, endMs: to };
  const span = Number(params.get("span"));
  return span > 0 ? { live: true, spanMs: span } : DEFAULT_VIEW;
}

function paramsFromView(view: View): Record<string, string> {
  return view.live ? { span: String(view.spanMs) } : { from: String(view.startMs), to: String(view.endMs) };
}

/** A device: its state, live charts of every sensor, figures for the range, and its keys for admins. */
export default function DevicePage() {
  const params = useParams();
  const device: DeviceRef = { code: (params.code ?? "").toUpperCase(), number: Number(params.number) };
  const name = `${device.code}-${device.number}`;
  const [search, setSearch] = useSearchParams();
  const view = viewFromParams(search);
  const setView = useCallback((v: View) => setSearch(paramsFromView(v)), [setSearch]);
  const scopes = useScopes();
  // The figures wait for the charts' first readings: on a one-connection database (the quick
  // start's) their query would otherwise delay the first chart.
  const [chartsLoaded, setChartsLoaded] = useState(false);
  const onChartsLoaded = useCallback(() => setChartsLoaded(true), []);
  const valid = /^[A-Z]{1,16}$/.test(device.code) && Number.isInteger(device.number) && device.number > 0;

  if (!valid) {
    return (
      <section>
        <PageHeading title="Device not found" />
        <p>A device address looks like /devices/DEMO/1.</p>
      </section>
    );
  }
  return (
    <section>
      <PageHeading title={name} />
      {(scopes.includes("devices:read") || scopes.includes("devices:admin")) && <DeviceSummary device={device} />}
      <DeviceCharts device={device} view={view} setView={setView} onLoaded={onChartsLoaded} />
      <StatsTable device={device} view={view} enabled={chartsLoaded} />
      {scopes.includes("devices:admin") && <DeviceKeys device={device} />}
    </section>
  );
}

function DeviceSummary({ device }: { device: DeviceRef }) {
  const now = useNow(5_000);
  const q = useQuery(DeviceService.method.getDevice, device, { refetchInterval: 10_000 });
  const d = q.data?.device;
  return (
    <QueryState isPending={q.isPending} error={q.error}>
      {d && (
        <dl className="facts">
          <div>
            <dt>State</dt>
            <dd>
              <DeviceState device={d} />
            </dd>
          </div>
          <div>
            <dt>Last seen</dt>
            <dd title={formatDateTime(ms(d.lastSeenTime))}>{d.online ? "now" : formatAgo(ms(d.lastSeenTime), now)}</dd>
          </div>
          <div>
            <dt>Kind</dt>
            <dd>{d.kind || "—"}</dd>
          </div>
          <div>
            <dt>Model</dt>
            <dd>{d.model || "—"}</dd>
          </div>
          <div>
            <dt>Site</dt>
            <dd>{d.site || "—"}</dd>
          </div>
          <div>
            <dt>Last batch stored</dt>
            <dd>{d.lastStoredSeq > 0n ? `#${d.lastStoredSeq}` : "—"}</dd>
          </div>
        </dl>
      )}
    </QueryState>
  );
}

const LIVE_TEXT: Record<LiveState, string> = {
  off: "Not live",
  connecting: "Waiting for live readings…",
  live: "Live",
  reconnecting: "Connection lost, reconnecting…",
};

function DeviceCharts({
  device,
  view,
  setView,
  onLoaded,
}: {
  device: DeviceRef;
  view: View;
  setView: (v: View) => void;
  onLoaded: () => void;
}) {
  const { store, loading, error, live } = useDeviceReadings(device, view);
  useEffect(() => {
    if (store || error !== undefined) onLoaded();
  }, [store, error, onLoaded]);
  const onZoom = useCallback((a: number, b: number) => setView(zoomTo(a, b, Date.now())), [setView]);
  const range = useCallback(() => rangeOf(view, Date.now()), [view]);
  return (
    <section aria-labelledby="charts-heading" className="charts-section">
      <h2 id="charts-heading">Readings</h2>
      <RangeToolbar view={view} setView={setView} />
      <p className="chart-status" aria-live="polite">
        <span className={`live-dot live-${live}`} aria-hidden="true" />
        <span className="live-text">{view.live ? LIVE_TEXT[live] : "A past range: not live"}</span>
        {" · "}
        <span className="source-text">
          {store?.source === "buckets"
            ? `${describeBucket(store.bucketMs)} averages with min–max band (too many readings to draw each one)`
            : "Every reading"}
        </span>
        {loading && " · loading…"}
      </p>
      {error !== undefined && <QueryState isPending={false} error={error} />}
      {store && <ChartGrid store={store} range={range} onZoom={onZoom} device={device} />}
      {!loading && store && store.size === 0 && (
        <p className="muted">
          No readings in this range{view.live ? " yet: new ones appear here as they arrive" : ""}.
        </p>
      )}
    </section>
  );
}

function ChartGrid({
  store,
  range,
  onZoom,
  device,
}: {
  store: DeviceReadings;
  range: () => { startMs: number; endMs: number };
  onZoom: (a: number, b: number) => void;
  device: DeviceRef;
}) {
  const sensors = useSyncExternalStore(store.onSensors, store.sensors);
  return (
    <div className="chart-grid">
      {sensors.map((s) => (
        <ChartCard key={s.sensor} series={s} store={store} range={range} onZoom={onZoom} device={device} />
      ))}
    </div>
  );
}

function ChartCard({
  series,
  store,
  range,
  onZoom,
  device,
}: {
  series: SensorSeries;
  store: DeviceReadings;
  range: () => { startMs: number; endMs: number };
  onZoom: (a: number, b: number) => void;
  device: DeviceRef;
}) {
  // The caption's figures change every second at most: enough for reading, cheap for twenty charts.
  useNow(1_000);
  const latest = series.latest;
  const extent = series.extent();
  const label = latest
    ? `${series.sensor}: ${series.count} ${series.mode === "raw" ? "readings" : "buckets"}, latest ${formatNumber(latest.value)} at ${formatDateTime(latest.timeMs)}${extent ? `, lowest ${formatNumber(extent.min)}, highest ${formatNumber(extent.max)}` : ""}`
    : `${series.sensor}: no readings in this range`;
  return (
    <figure className="chart-card">
      <figcaption>
        <span className="sensor">{series.sensor}</span>
        <span className="latest">{latest ? formatNumber(latest.value) : "—"}</span>
      </figcaption>
      <TimeChart
        series={series}
        range={range}
        subscribe={store.onRedraw}
        onZoom={onZoom}
        syncKey={`${device.code}-${device.number}`}
        label={label}
      />
    </figure>
  );
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1);
}

function RangeToolbar({ view, setView }: { view: View; setView: (v: View) => void }) {
  const id = useId();
  const span = spanOf(view);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const { startMs, endMs } = rangeOf(view, Date.now());
  const fromValue = from || toLocalInput(startMs);
  const toValue = to || toLocalInput(endMs);
  function applyRange(e: FormEvent) {
    e.preventDefault();
    const a = fromLocalInput(fromValue);
    const b = fromLocalInput(toValue);
    if (a !== undefined && b !== undefined && b > a) {
      setFrom("");
      setTo("");
      setView(zoomTo(a, b, Date.now()));
    }
  }
  return (
    <div className="toolbar">
      <fieldset className="segmented">
        <legend className="visually-hidden">Time range ending now</legend>
        {PRESETS.map((p) => (
          <button
            key={p.spanMs}
            type="button"
            aria-pressed={view.live && view.spanMs === p.spanMs}
            onClick={() => setView({ live: true, spanMs: p.spanMs })}
          >
            {p.label}
          </button>
        ))}
      </fieldset>
      <div className="zoom">
        <button type="button" onClick={() => setView(zoomBy(view, 0.5, Date.now()))}>
          Zoom in
        </button>
        <button type="button" onClick={() => setView(zoomBy(view, 2, Date.now()))}>
          Zoom out
        </button>
        {!view.live && (
          <button type="button" className="primary" onClick={() => setView({ live: true, spanMs: span })}>
            Back to live
          </button>
        )}
      </div>
      <form className="range-form" onSubmit={applyRange} aria-label="Show a range">
        <div className="field">
          <label htmlFor={`${id}-from`}>From</label>
          <input id={`${id}-from`} type="datetime-local" value={fromValue} onChange={(e) => setFrom(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-to`}>To</label>
          <input id={`${id}-to`} type="datetime-local" value={toValue} onChange={(e) => setTo(e.target.value)} />
        </div>
        <button type="submit">Show range</button>
      </form>
      <p className="muted range-hint">{formatSpan(span)} shown. Drag across a chart to zoom into that span.</p>
    </div>
  );
}
