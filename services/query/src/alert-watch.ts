import { Code, ConnectError } from "@connectrpc/connect";
import { type AlertFilter, type AlertView, alertsChangedSince, listAlerts } from "@vigil/alerts";
import type { Database, Kysely } from "@vigil/db";
import type { Alert, WatchAlertsResponse } from "@vigil/proto";

/** Changes committed up to this long before the newest one seen are looked at again (late commits). */
const OVERLAP_MS = 5_000;
/** Most open alerts sent when a watch starts. */
const SNAPSHOT_LIMIT = 1_000;
/** Changes a watcher may fall behind before it is dropped. */
const MAX_BUFFERED = 10_000;

type Listener = (alerts: AlertView[]) => void;

/**
 * One poller per query process for every WatchAlerts client: the alerts
 * changed since the last look (by updated_at, with an overlap for
 * transactions that commit late, de-duplicated by id and version), fanned
 * out to the watchers. Alerters and API replicas all write to the database,
 * so this sees every change whoever made it.
 */
export class AlertWatchHub {
  private readonly listeners = new Set<Listener>();
  private readonly seen = new Map<number, { version: number; at: number }>();
  private cursor = new Date(Date.now() - OVERLAP_MS);
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly db: Kysely<Database>;
  private readonly pollMs: number;

  constructor(db: Kysely<Database>, pollMs = 500) {
    this.db = db;
    this.pollMs = pollMs;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.cursor = new Date(Date.now() - OVERLAP_MS);
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const since = new Date(this.cursor.getTime() - OVERLAP_MS);
      const changed = await alertsChangedSince(this.db, since, 5_000);
      const fresh: AlertView[] = [];
      for (const a of changed) {
        const prior = this.seen.get(a.id);
        if (prior && prior.version >= a.version) continue;
        this.seen.set(a.id, { version: a.version, at: a.updatedAt.getTime() });
        fresh.push(a);
        if (a.updatedAt > this.cursor) this.cursor = a.updatedAt;
      }
      const forget = this.cursor.getTime() - 2 * OVERLAP_MS;
      for (const [id, s] of this.seen) if (s.at < forget) this.seen.delete(id);
      if (fresh.length > 0) for (const l of this.listeners) l(fresh);
    } catch {
      // The database is away: the next poll catches up (the cursor has not moved).
    } finally {
      this.polling = false;
    }
  }
}

/** True when an alert matches a watch's filter. */
export function matches(a: AlertView, f: AlertFilter): boolean {
  if (f.states?.length && !f.states.includes(a.state)) return false;
  if (f.severities?.length && !f.severities.includes(a.severity)) return false;
  if (f.ruleId && a.ruleId !== f.ruleId) return false;
  if (f.deviceCode && a.device?.code !== f.deviceCode) return false;
  if (f.deviceNumber !== undefined && a.device?.number !== f.deviceNumber) return false;
  if (f.sensor && a.sensor !== f.sensor) return false;
  if (f.startMs !== undefined && a.startedAt.getTime() < f.startMs) return false;
  if (f.endMs !== undefined && a.startedAt.getTime() >= f.endMs) return false;
  return true;
}

/**
 * WatchAlerts: the open alerts matching the filter (newest first, at most
 * 1,000), a SnapshotComplete, then every change to a matching alert as it
 * is committed (an alert that stops matching, say resolved under a
 * states filter, is still sent once so an inbox can drop it).
 */
export async function* watchAlerts(
  db: Kysely<Database>,
  hub: AlertWatchHub,
  filter: AlertFilter,
  signal: AbortSignal,
  toAlert: (a: AlertView) => Alert,
): AsyncGenerator<WatchAlertsResponse> {
  const buffer: AlertView[] = [];
  let overflow = false;
  let wake: (() => void) | undefined;
  const unsubscribe = hub.subscribe((alerts) => {
    for (const a of alerts) buffer.push(a);
    if (buffer.length > MAX_BUFFERED) {
      overflow = true;
      buffer.length = 0;
    }
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort, { once: true });
  const sent = new Map<number, number>();
  try {
    const open = (filter.states?.length ? filter.states : (["firing", "acknowledged"] as const)).filter(
      (s) => s !== "resolved",
    );
    const snapshot =
      open.length > 0 ? await listAlerts(db, { ...filter, states: open }, { limit: SNAPSHOT_LIMIT }) : [];
    for (const a of snapshot) {
      sent.set(a.id, a.version);
      yield { $typeName: "vigil.alerts.v1.WatchAlertsResponse", event: { case: "alert", value: toAlert(a) } };
    }
    yield {
      $typeName: "vigil.alerts.v1.WatchAlertsResponse",
      event: {
        case: "snapshotComplete",
        value: { $typeName: "vigil.alerts.v1.SnapshotComplete", openAlerts: BigInt(snapshot.length) },
      },
    };
    const stateless = { ...filter, states: undefined };
    while (!signal.aborted) {
      if (overflow) {
        throw new ConnectError("the client fell too far behind the alert changes: watch again", Code.ResourceExhausted);
      }
      const a = buffer.shift();
      if (!a) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      if ((sent.get(a.id) ?? 0) >= a.version) continue;
      // A change that takes an alert out of the filter's states is still news for the inbox holding it.
      const wasSent = sent.has(a.id);
      if (!matches(a, filter) && !(wasSent && matches(a, stateless))) continue;
      sent.set(a.id, a.version);
      yield { $typeName: "vigil.alerts.v1.WatchAlertsResponse", event: { case: "alert", value: toAlert(a) } };
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    unsubscribe();
  }
}
