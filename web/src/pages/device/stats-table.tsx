import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { useQuery } from "@connectrpc/connect-query";
import { keepPreviousData } from "@tanstack/react-query";
import { ReadingService } from "@vigil/proto";
import { QueryState } from "../../ui/query-state.tsx";
import { ScrollRegion } from "../../ui/scroll-region.tsx";
import { formatDateTime, useNow } from "../../ui/time.ts";
import type { DeviceRef } from "./use-device-readings.ts";
import { rangeOf, type View, WHOLE_RANGE_BUCKET } from "./view-range.ts";

/** A live range's figures are recomputed this often. */
const LIVE_REFRESH_MS = 15_000;

/** Count, min, max, average and percentiles of each sensor over the range shown (GetStats, one bucket). */
export function StatsTable({ device, view, enabled }: { device: DeviceRef; view: View; enabled: boolean }) {
  const now = useNow(LIVE_REFRESH_MS);
  const { startMs, endMs } = rangeOf(view, view.live ? now : 0);
  const q = useQuery(
    ReadingService.method.getStats,
    {
      filter: {
        deviceCode: device.code,
        deviceNumber: device.number,
        startTime: timestampFromMs(Math.floor(startMs)),
        endTime: timestampFromMs(Math.ceil(endMs)),
      },
      bucket: WHOLE_RANGE_BUCKET,
    },
    { placeholderData: keepPreviousData, enabled },
  );
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
  return (
    <section aria-labelledby="stats-heading">
      <h2 id="stats-heading">Figures for the range</h2>
      <p className="muted">
        {formatDateTime(startMs)} to {formatDateTime(endMs)}
        {view.live && " (recomputed every 15 s)"}
      </p>
      <QueryState isPending={q.isPending} error={q.error}>
        {q.data && q.data.buckets.length === 0 ? (
          <p className="muted">No readings in this range.</p>
        ) : (
          <ScrollRegion label="Figures per sensor">
            <table className="stats">
              <caption className="visually-hidden">Figures per sensor for the range shown</caption>
              <thead>
                <tr>
                  <th scope="col">Sensor</th>
                  <th scope="col" className="num">
                    Readings
                  </th>
                  <th scope="col" className="num">
                    Min
                  </th>
                  <th scope="col" className="num">
                    Max
                  </th>
                  <th scope="col" className="num">
                    Average
                  </th>
                  <th scope="col" className="num">
                    p50
                  </th>
                  <th scope="col" className="num">
                    p95
                  </th>
                  <th scope="col" className="num">
                    p99
                  </th>
                </tr>
              </thead>
              <tbody>
                {q.data?.buckets.map((b) => (
                  <tr key={b.sensor}>
                    <th scope="row">{b.sensor}</th>
                    <td className="num">{b.count.toLocaleString()}</td>
                    <td className="num">{fmt(b.min)}</td>
                    <td className="num">{fmt(b.max)}</td>
                    <td className="num">{fmt(b.avg)}</td>
                    <td className="num">{fmt(b.p50)}</td>
                    <td className="num">{fmt(b.p95)}</td>
                    <td className="num">{fmt(b.p99)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollRegion>
        )}
      </QueryState>
    </section>
  );
}
