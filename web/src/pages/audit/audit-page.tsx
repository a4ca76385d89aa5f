import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { useInfiniteQuery } from "@connectrpc/connect-query";
import { AuditService } from "@vigil/proto";
import { useId } from "react";
import { useSearchParams } from "react-router";
import { PageHeading } from "../../app/page-heading.tsx";
import { QueryState } from "../../ui/query-state.tsx";
import { ScrollRegion } from "../../ui/scroll-region.tsx";
import { formatDateTime, fromLocalInput, ms } from "../../ui/time.ts";

/** Actions the API writes today; the filter also takes any other name. */
const KNOWN_ACTIONS = [
  "readings.update",
  "readings.delete",
  "device.create",
  "device.disable",
  "device_key.rotate",
  "device_key.revoke",
  "device_key.replace",
  "dead_letter.replay",
  "user.create",
];

/** Who changed what, newest first, filtered by actor, action and time. */
export default function AuditPage() {
  const id = useId();
  const [params, setParams] = useSearchParams();
  const actor = params.get("actor") ?? "";
  const action = params.get("action") ?? "";
  const from = params.get("from") ?? "";
  const to = params.get("to") ?? "";
  const start = fromLocalInput(from);
  const end = fromLocalInput(to);
  const q = useInfiniteQuery(
    AuditService.method.listAuditLog,
    {
      actor: actor.trim(),
      action: action.trim(),
      startTime: start === undefined ? undefined : timestampFromMs(start),
      endTime: end === undefined ? undefined : timestampFromMs(end),
      pageSize: 100,
      pageToken: "",
    },
    { pageParamKey: "pageToken", getNextPageParam: (l) => l.nextPageToken || undefined },
  );
  const entries = q.data?.pages.flatMap((p) => p.entries) ?? [];

  function setParam(key: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  }

  return (
    <section>
      <PageHeading title="Audit log" />
      <form className="filters" aria-label="Filter the audit log" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={`${id}-actor`}>Actor</label>
          <input
            id={`${id}-actor`}
            placeholder="user:alice"
            value={actor}
            maxLength={200}
            onChange={(e) => setParam("actor", e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-action`}>Action</label>
          <input
            id={`${id}-action`}
            list={`${id}-actions`}
            placeholder="Any"
            value={action}
            maxLength={100}
            onChange={(e) => setParam("action", e.target.value)}
          />
          <datalist id={`${id}-actions`}>
            {KNOWN_ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor={`${id}-from`}>From</label>
          <input
            id={`${id}-from`}
            type="datetime-local"
            value={from}
            onChange={(e) => setParam("from", e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-to`}>To</label>
          <input id={`${id}-to`} type="datetime-local" value={to} onChange={(e) => setParam("to", e.target.value)} />
        </div>
      </form>
      <QueryState isPending={q.isPending} error={q.error}>
        {entries.length === 0 ? (
          <p>No entries match.</p>
        ) : (
          <ScrollRegion label="Audit log entries">
            <table>
              <caption className="visually-hidden">Audit log entries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col" className="num">
                    Rows
                  </th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((e) => (
                  <tr key={String(e.id)}>
                    <td>{formatDateTime(ms(e.time))}</td>
                    <td>{e.actor}</td>
                    <th scope="row">{e.action}</th>
                    <td>{e.target || "—"}</td>
                    <td className="num">{e.rowsAffected === undefined ? "—" : e.rowsAffected.toLocaleString()}</td>
                    <td>
                      <details>
                        <summary>
                          Show<span className="visually-hidden"> details of entry {String(e.id)}</span>
                        </summary>
                        <pre>{JSON.stringify(e.details ?? {}, null, 2)}</pre>
                        {e.traceId && <p className="muted">Trace {e.traceId}</p>}
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollRegion>
        )}
        {q.hasNextPage && (
          <button type="button" onClick={() => void q.fetchNextPage()} disabled={q.isFetchingNextPage}>
            Load more
          </button>
        )}
      </QueryState>
    </section>
  );
}
