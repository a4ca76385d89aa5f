import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { SensorSeries } from "../pages/device/sensor-series.ts";
import { cancelDraw, requestDraw } from "./frame-scheduler.ts";

export interface TimeChartProps {
  series: SensorSeries;
  /** The x range to show, read at every draw (a live window moves). */
  range: () => { startMs: number; endMs: number };
  /** Subscribes to "something changed, redraw when you can"; returns the unsubscribe. */
  subscribe: (redraw: () => void) => () => void;
  /** Drag-selecting a span on the chart zooms to it. */
  onZoom: (startMs: number, endMs: number) => void;
  /** Charts with the same key share the cursor. */
  syncKey: string;
  height?: number;
  /** Accessible name of the plot. */
  label: string;
}

const LINE = "#0b5563";
const BAND = "rgba(11, 85, 99, 0.18)";
const AXIS = "#3d4852";
const GRID = "#e3e8ec";

/** Bounds on the time between two redraws of one chart. */
const MIN_REDRAW_MS = 100;
const MAX_REDRAW_MS = 1_000;

let firstChartMarked = false;

/**
 * A uPlot time-series chart of one sensor: a line of raw readings, or of
 * bucket averages with a min–max band. Redrawn through the frame scheduler
 * only when its data or range changed; sized to its container.
 */
export function TimeChart({ series, range, subscribe, onZoom, syncKey, height = 180, label }: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const latest = useRef({ range, onZoom });
  latest.current = { range, onZoom };

  useEffect(() => {
    const el = box.current!;
    const buckets = series.mode === "buckets";
    const xRange = (): [number, number] => {
      const r = latest.current.range();
      return [r.startMs / 1000, r.endMs / 1000];
    };
    const axis = { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: false },
      cursor: {
        sync: { key: syncKey },
        drag: { x: true, y: false, setScale: false },
        points: { show: false },
      },
      scales: { x: { time: true, auto: false, range: () => xRange() } },
      axes: [axis, { ...axis, size: 56 }],
      series: [
        {},
        { label: series.sensor, stroke: LINE, width: 1.5, spanGaps: false, points: { show: false } },
        ...(buckets
          ? [
              { label: "min", stroke: "transparent", points: { show: false } },
              { label: "max", stroke: "transparent", points: { show: false } },
            ]
          : []),
      ],
      bands: buckets ? [{ series: [3, 2], fill: BAND }] : [],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 5) return;
            const a = u.posToVal(u.select.left, "x") * 1000;
            const b = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            latest.current.onZoom(a, b);
          },
        ],
      },
    };
    const chart = new uPlot(opts, series.plotData() as uPlot.AlignedData, el);
    let drawn = series.version;
    let drawnRange = xRange().join();
    let drawnAt = 0;
    let later: ReturnType<typeof setTimeout> | undefined;
    const draw = () => {
      const r = xRange().join();
      if (series.version === drawn && r === drawnRange) return;
      // Redraw when the view has moved by about a pixel, not on every reading: twenty charts at
      // 10 Hz then cost a few frames' work a second (between 10 and 1 redraws a second per chart).
      const [a, b] = xRange();
      const wait =
        Math.min(MAX_REDRAW_MS, Math.max(MIN_REDRAW_MS, ((b - a) * 1000) / el.clientWidth)) -
        (performance.now() - drawnAt);
      if (wait > 0) {
        later ??= setTimeout(() => {
          later = undefined;
          requestDraw(draw);
        }, wait);
        return;
      }
      drawnAt = performance.now();
      drawn = series.version;
      drawnRange = r;
      chart.setData(series.plotData() as uPlot.AlignedData);
      el.dataset.points = String(series.count);
      el.dataset.latest = String(series.latest?.timeMs ?? "");
      if (!firstChartMarked && series.count > 0) {
        firstChartMarked = true;
        performance.mark("vigil:first-chart");
      }
    };
    el.dataset.points = String(series.count);
    if (!firstChartMarked && series.count > 0) {
      firstChartMarked = true;
      performance.mark("vigil:first-chart");
    }
    const unsubscribe = subscribe(() => requestDraw(draw));
    const resize = new ResizeObserver(() => {
      const width = Math.max(200, el.clientWidth);
      if (width !== chart.width) chart.setSize({ width, height });
    });
    resize.observe(el);
    return () => {
      unsubscribe();
      cancelDraw(draw);
      clearTimeout(later);
      resize.disconnect();
      chart.destroy();
    };
  }, [series, subscribe, syncKey, height]);

  return <div ref={box} className="chart" role="img" aria-label={label} />;
}
