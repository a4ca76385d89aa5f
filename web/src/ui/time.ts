import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

/** Milliseconds of an optional Timestamp; undefined when unset. */
export function ms(t: Timestamp | undefined): number | undefined {
  return t ? timestampMs(t) : undefined;
}

export function formatDateTime(t: number | undefined): string {
  return t === undefined ? "—" : dateTime.format(t);
}

export function formatTime(t: number): string {
  return timeOnly.format(t);
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 days ago". */
export function formatAgo(t: number | undefined, now: number): string {
  if (t === undefined) return "never";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/** Formats a span such as 300000 → "5 min". */
export function formatSpan(spanMs: number): string {
  const s = spanMs / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

/** The clock, re-read every `everyMs`: for "… ago" labels. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

/** A value for <input type="datetime-local"> in local time, and back. */
export function toLocalInput(t: number): string {
  const d = new Date(t - new Date(t).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function fromLocalInput(value: string): number | undefined {
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? t : undefined;
}
