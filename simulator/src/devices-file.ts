import { readFileSync } from "node:fs";
import { z } from "zod";
import type { DeviceIdentity } from "./simulated-device.ts";

const identity = z.object({
  code: z.string().regex(/^[A-Z]{1,16}$/),
  number: z.number().int().min(1),
  apiKey: z.string().default(""),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
});

/** What `vigil devices create` prints (CreateDeviceResponse: {device: {code, number, …}, apiKey}), read as a flat identity. */
const created = z
  .object({ device: z.object({ code: z.string(), number: z.number() }).loose(), apiKey: z.string() })
  .transform((c) => ({ code: c.device.code, number: c.device.number, apiKey: c.apiKey }))
  .pipe(identity.extend({ apiKey: z.string().min(1) }));

/**
 * Reads device keys: the output of `vigil devices create` (a list of
 * {device, apiKey}), or flat {code, number, apiKey} objects; one or a list.
 */
export function readDevicesFile(path: string): DeviceIdentity[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot read devices file ${path}: ${(err as Error).message}`);
  }
  const list = z.array(z.union([created, identity])).safeParse(Array.isArray(parsed) ? parsed : [parsed]);
  if (!list.success) {
    throw new Error(
      `devices file ${path} must hold {device: {code, number}, apiKey} or {code, number, apiKey} objects: ${list.error.message}`,
    );
  }
  for (const d of list.data) {
    if (!d.apiKey && !d.certFile)
      throw new Error(`devices file ${path}: ${d.code}-${d.number} has no apiKey nor certFile`);
    if (Boolean(d.certFile) !== Boolean(d.keyFile)) {
      throw new Error(`devices file ${path}: ${d.code}-${d.number} needs both certFile and keyFile`);
    }
  }
  return list.data;
}
