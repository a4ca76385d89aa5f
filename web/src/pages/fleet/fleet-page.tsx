import { useInfiniteQuery } from "@connectrpc/connect-query";
import { DeviceService } from "@vigil/proto";
import { useId } from "react";
import { Link, useSearchParams } from "react-router";
import { PageHeading } from "../../app/page-heading.tsx";
import { DeviceState, deviceName } from "../../ui/device-state.tsx";
import { QueryState } from "../../ui/query-state.tsx";
import { ScrollRegion } from "../../ui/scroll-region.tsx";
import { formatAgo, formatDateTime, ms, useNow } from "../../ui/time.ts";
import { matchesSearch } from "./fleet-filter.ts";

const PAGE_SIZE = 200;

/** Every device with its presence; state and code filter on the server, the search box in the page. */
export default function FleetPage() {
  const id = useId();
  const [params, setParams] = useSearchParams();
  const search = params.get("q") ?? "";
  const state = params.get("state") ?? "all";
  const code = (params.get("code") ?? "").toUpperCase();
  const now = useNow(5_000);
  const devices = useInfiniteQuery(
    DeviceService.method.listDevices,
    {
      code: /^[A-Z]+$/.test(code) ? code : "",
      online: state === "all" ? undefined : state === "online",
      pageSize: PAGE_SIZE,
      pageToken: "",
    },
    {
      pageParamKey: "pageToken",
      getNextPageParam: (last) => last.nextPageToken || undefined,
      refetchInterval: 10_000,
    },
  );
  const all = devices.data?.pages.flatMap((p) => p.devices) ?? [];
  const shown = all.filter((d) => matchesSearch(d, search));
  const online = all.filter((d) => d.online).length;

  function setParam(key: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  }

  return (
    <section>
      <PageHeading title="Fleet" />
      <search aria-label="Filter devices">
        <form className="filters" onSubmit={(e) => e.preventDefault()}>
          <div className="field">
            <label htmlFor={`${id}-q`}>Search</label>
            <input
              id={`${id}-q`}
              type="search"
              placeholder="Name, kind, model, site, label"
              value={search}
              onChange={(e) => setParam("q", e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-state`}>State</label>
            <select id={`${id}-state`} value={state} onChange={(e) => setParam("state", e.target.value)}>
              <option value="all">All</option>
              <option value="online">Online</option>
              <option value="offline">Offline</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-code`}>Code</label>
            <input
              id={`${id}-code`}
              placeholder="e.g. OR"
              value={code}
              maxLength={16}
              onChange={(e) => setParam("code", e.target.value.replace(/[^A-Za-z]/g, "").toUpperCase())}
            />
          </div>
        </form>
      </search>
      <QueryState isPending={devices.isPending} error={devices.error}>
        <p className="summary" role="status" aria-live="polite">
          {shown.length === all.length
            ? `${all.length} devices, ${online} online`
            : `${shown.length} of ${all.length} devices match`}
        </p>
        <ScrollRegion label="Devices">
          <table>
            <caption className="visually-hidden">Devices, with state and when each was last seen</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">State</th>
                <th scope="col">Last seen</th>
                <th scope="col">Kind</th>
                <th scope="col">Model</th>
                <th scope="col">Site</th>
                <th scope="col" className="num">
                  Last batch
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((d) => {
                const seen = ms(d.lastSeenTime);
                return (
                  <tr key={deviceName(d)}>
                    <th scope="row">
                      <Link to={`/devices/${d.code}/${d.number}`}>{deviceName(d)}</Link>
                    </th>
                    <td>
                      <DeviceState device={d} />
                    </td>
                    <td>
                      <time dateTime={seen ? new Date(seen).toISOString() : undefined} title={formatDateTime(seen)}>
                        {d.online ? "now" : formatAgo(seen, now)}
                      </time>
                    </td>
                    <td>{d.kind || "—"}</td>
                    <td>{d.model || "—"}</td>
                    <td>{d.site || "—"}</td>
                    <td className="num">{d.lastStoredSeq > 0n ? `#${d.lastStoredSeq}` : "—"}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollRegion>
        {devices.hasNextPage && (
          <button type="button" onClick={() => void devices.fetchNextPage()} disabled={devices.isFetchingNextPage}>
            {devices.isFetchingNextPage ? "Loading…" : "Load more devices"}
          </button>
        )}
      </QueryState>
    </section>
  );
}
