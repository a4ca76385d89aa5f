import { createConnectQueryKey, useInfiniteQuery, useMutation, useTransport } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type DeadLetter, DeadLetterService } from "@vigil/proto";
import { useId, useState } from "react";
import { useSearchParams } from "react-router";
import { errorMessage } from "../../api/transport.ts";
import { PageHeading } from "../../app/page-heading.tsx";
import { QueryState } from "../../ui/query-state.tsx";
import { ScrollRegion } from "../../ui/scroll-region.tsx";
import { formatDateTime, ms } from "../../ui/time.ts";

/** Batches Vigil refused or could not store: filter, inspect, replay. */
export default function DeadLettersPage() {
  const id = useId();
  const [params, setParams] = useSearchParams();
  const code = params.get("code") ?? "";
  const number = params.get("number") ?? "";
  const source = params.get("source") ?? "";
  const includeReplayed = params.get("replayed") === "1";
  const [open, setOpen] = useState<bigint>();
  const [notice, setNotice] = useState<string>();
  const q = useInfiniteQuery(
    DeadLetterService.method.listDeadLetters,
    {
      deviceCode: /^[A-Z]+$/.test(code) ? code : "",
      deviceNumber: /^\d+$/.test(number) ? Number(number) : undefined,
      source,
      includeReplayed,
      pageSize: 100,
      pageToken: "",
    },
    { pageParamKey: "pageToken", getNextPageParam: (l) => l.nextPageToken || undefined },
  );
  const letters = q.data?.pages.flatMap((p) => p.deadLetters) ?? [];

  function setParam(key: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  }

  return (
    <section>
      <PageHeading title="Dead letters" />
      <p className="muted">
        Batches the receivers refused (with the reasons the device was told) and batches the writers could not store.
        Replaying validates a batch again with today's rules and, if it passes, stores it.
      </p>
      <p className="notice" role="status" hidden={!notice}>
        {notice}
      </p>
      <form className="filters" aria-label="Filter dead letters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={`${id}-code`}>Device code</label>
          <input
            id={`${id}-code`}
            value={code}
            maxLength={16}
            onChange={(e) => setParam("code", e.target.value.replace(/[^A-Za-z]/g, "").toUpperCase())}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-number`}>Number</label>
          <input
            id={`${id}-number`}
            inputMode="numeric"
            value={number}
            maxLength={9}
            onChange={(e) => setParam("number", e.target.value.replace(/\D/g, ""))}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-source`}>Source</label>
          <select id={`${id}-source`} value={source} onChange={(e) => setParam("source", e.target.value)}>
            <option value="">Both</option>
            <option value="receiver">Receiver (refused on arrival)</option>
            <option value="writer">Writer (could not be stored)</option>
          </select>
        </div>
        <div className="field checkbox">
          <input
            id={`${id}-replayed`}
            type="checkbox"
            checked={includeReplayed}
            onChange={(e) => setParam("replayed", e.target.checked ? "1" : "")}
          />
          <label htmlFor={`${id}-replayed`}>Include replayed</label>
        </div>
      </form>
      <QueryState isPending={q.isPending} error={q.error}>
        {letters.length === 0 ? (
          <p>No dead letters match.</p>
        ) : (
          <ScrollRegion label="Dead letters">
            <table>
              <caption className="visually-hidden">Dead letters, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Time</th>
                  <th scope="col">Device</th>
                  <th scope="col" className="num">
                    Seq
                  </th>
                  <th scope="col">Source</th>
                  <th scope="col">Reason</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span className="visually-hidden">Details</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {letters.map((l) => (
                  <DeadLetterRow
                    key={String(l.id)}
                    letter={l}
                    open={open === l.id}
                    toggle={() => setOpen(open === l.id ? undefined : l.id)}
                    onReplayed={setNotice}
                  />
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

function DeadLetterRow({
  letter: l,
  open,
  toggle,
  onReplayed,
}: {
  letter: DeadLetter;
  open: boolean;
  toggle: () => void;
  onReplayed: (message: string) => void;
}) {
  const detailsId = `dead-letter-${l.id}`;
  return (
    <>
      <tr>
        <th scope="row">{String(l.id)}</th>
        <td>{formatDateTime(ms(l.createTime))}</td>
        <td>{l.device || "unknown"}</td>
        <td className="num">{l.seq > 0n ? String(l.seq) : "—"}</td>
        <td>{l.source}</td>
        <td className="reason">{l.reason}</td>
        <td>{l.replayTime ? `Replayed ${formatDateTime(ms(l.replayTime))}` : "Not replayed"}</td>
        <td>
          <button type="button" aria-expanded={open} aria-controls={detailsId} onClick={toggle}>
            {open ? "Hide" : "Inspect"}
            <span className="visually-hidden"> dead letter {String(l.id)}</span>
          </button>
        </td>
      </tr>
      {open && (
        <tr id={detailsId} className="details-row">
          <td colSpan={8}>
            <DeadLetterDetails letter={l} onReplayed={onReplayed} />
          </td>
        </tr>
      )}
    </>
  );
}

function DeadLetterDetails({ letter: l, onReplayed }: { letter: DeadLetter; onReplayed: (message: string) => void }) {
  const transport = useTransport();
  const queryClient = useQueryClient();
  const replay = useMutation(DeadLetterService.method.replayDeadLetter, {
    onSuccess: (res) => {
      onReplayed(`Dead letter ${l.id} replayed: ${res.readings} readings are on their way to the database.`);
      return queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: DeadLetterService, transport, cardinality: undefined }),
      });
    },
  });
  return (
    <div className="dead-letter">
      <dl className="facts">
        <div>
          <dt>Code</dt>
          <dd>{l.code || "—"}</dd>
        </div>
        <div>
          <dt>Payload</dt>
          <dd>{l.payloadBytes.toLocaleString()} bytes</dd>
        </div>
      </dl>
      <p>{l.reason}</p>
      {l.violations.length > 0 && (
        <>
          <h3>Problems found</h3>
          <ul>
            {l.violations.map((v) => (
              <li key={`${v.field}:${v.description}`}>
                <code>{v.field || "batch"}</code>: {v.description}
              </li>
            ))}
          </ul>
        </>
      )}
      {!l.replayTime && (
        <button
          type="button"
          className="primary"
          disabled={replay.isPending || l.payloadBytes === 0}
          onClick={() => replay.mutate({ id: l.id })}
        >
          {replay.isPending ? "Replaying…" : `Replay dead letter ${l.id}`}
        </button>
      )}
      {replay.error && (
        <p className="error" role="alert">
          Replay refused: {errorMessage(replay.error)}
        </p>
      )}
    </div>
  );
}
