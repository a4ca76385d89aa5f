import type { DeviceAddress, WatchFilter } from "./reading-bus.ts";

/** JetStream stream holding every reading batch. */
export const STREAM_NAME = "VIGIL_READINGS";
/** Subject prefix; a device's batches go to `vigil.readings.<code>.<number>`. */
export const SUBJECT_PREFIX = "vigil.readings";
/** Header carrying the device's database id. */
export const DEVICE_ID_HEADER = "Vigil-Device-Id";
/** Header carrying the batch seq. */
export const SEQ_HEADER = "Vigil-Seq";
/**
 * Header carrying the batch's provenance: the reading_sources id the
 * receiver interned for the stream's credential and itself. Not part of the
 * dedup id: a batch resent through another receiver is still a duplicate,
 * and the first stored copy's provenance is the one that counts.
 */
export const SOURCE_HEADER = "Vigil-Source";

/** The reading_sources id a batch's headers carry, or null when none (or not a positive int32). */
export function sourceIdOf(headers: Record<string, string>): number | null {
  const text = headers[SOURCE_HEADER];
  if (text === undefined || !/^[1-9][0-9]{0,9}$/.test(text)) return null;
  const id = Number(text);
  return id <= 2_147_483_647 ? id : null;
}

/** The subject of one device's batches. */
export function deviceSubject(device: Pick<DeviceAddress, "code" | "number">): string {
  return `${SUBJECT_PREFIX}.${device.code}.${device.number}`;
}

/** JetStream dedup id of a batch: `<device>:<seq>`, such as `OR-7:42`. */
export function batchMessageId(device: Pick<DeviceAddress, "code" | "number">, seq: number): string {
  return `${device.code}-${device.number}:${seq}`;
}

/** The subject filter for a live tail. */
export function watchSubject(filter: WatchFilter): string {
  return `${SUBJECT_PREFIX}.${filter.code ?? "*"}.${filter.number ?? "*"}`;
}

/** Parses `vigil.readings.<code>.<number>`; undefined for any other subject. */
export function parseDeviceSubject(subject: string): { code: string; number: number } | undefined {
  const parts = subject.split(".");
  if (parts.length !== 4 || `${parts[0]}.${parts[1]}` !== SUBJECT_PREFIX) return undefined;
  const number = Number(parts[3]);
  if (!parts[2] || !Number.isInteger(number)) return undefined;
  return { code: parts[2], number };
}
