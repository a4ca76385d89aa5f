import type { Database, Kysely } from "@vigil/db";
import { deviceNameProblem, generateApiKey } from "@vigil/devices";
import type { DeviceIdentity } from "./simulated-device.ts";

/** Rows per INSERT: 10,000 devices register in ten round trips per table. */
const CHUNK = 1_000;

/**
 * Registers devices `code-n` for every given number in one transaction and
 * returns their keys: the same key format and hashing as `createDevice`
 * (`@vigil/devices`), and one audit row per device, but in bulk, so a fleet
 * of 10,000 registers in seconds instead of 10,000 transactions. Fails, and
 * registers nothing, when any of them exists already.
 */
export async function provisionDevices(
  db: Kysely<Database>,
  code: string,
  numbers: readonly number[],
  actor = "system:simulator",
): Promise<DeviceIdentity[]> {
  const bad = numbers.find((n) => deviceNameProblem(code, n));
  if (bad !== undefined) throw new Error(`${code}-${bad}: ${deviceNameProblem(code, bad)}`);
  return db.transaction().execute(async (tx) => {
    const out: DeviceIdentity[] = [];
    for (let i = 0; i < numbers.length; i += CHUNK) {
      const chunk = numbers.slice(i, i + CHUNK);
      const rows = await tx
        .insertInto("devices")
        .values(chunk.map((number) => ({ code, number, kind: "", model: "", site: "", labels: "{}" })))
        .onConflict((oc) => oc.columns(["code", "number"]).doNothing())
        .returning(["id", "number"])
        .execute();
      if (rows.length !== chunk.length) {
        const created = new Set(rows.map((r) => r.number));
        const existing = chunk.filter((n) => !created.has(n));
        throw new Error(
          `${existing.length} of the devices exist already (e.g. ${code}-${existing[0]}): use another code or a devices file`,
        );
      }
      const keys = rows.map((row) => ({ row, issued: generateApiKey() }));
      await tx
        .insertInto("device_keys")
        .values(keys.map(({ row, issued }) => ({ device_id: row.id, prefix: issued.prefix, hash: issued.hash })))
        .execute();
      await tx
        .insertInto("audit_log")
        .values(
          keys.map(({ row, issued }) => ({
            actor,
            action: "device.create",
            target: `device:${code}-${row.number}`,
            details: JSON.stringify({ keyPrefix: issued.prefix, bulk: true }),
            rows_affected: null,
            trace_id: null,
          })),
        )
        .execute();
      for (const { row, issued } of keys) out.push({ code, number: row.number, apiKey: issued.key });
    }
    out.sort((a, b) => a.number - b.number);
    return out;
  });
}
