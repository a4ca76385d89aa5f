import { parseArgs } from "node:util";
import type { VigilDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import { UsageError } from "../usage-error.ts";

export const DEVICES_USAGE = `vigil devices create --code CODE --number N [--count C]
  Registers devices CODE-N .. CODE-(N+C-1) and prints each API key once, as JSON
  (an object for one device, an array for several). Keys cannot be shown again.`;

/** `vigil devices …` */
export async function devicesCommand(database: VigilDatabase, args: string[]): Promise<unknown> {
  const [action, ...rest] = args;
  if (action !== "create") throw new UsageError(`unknown devices command ${action ?? "(none)"}\n${DEVICES_USAGE}`);
  const { values } = parseArgs({
    args: rest,
    options: { code: { type: "string" }, number: { type: "string" }, count: { type: "string", default: "1" } },
    strict: true,
  });
  const number = Number(values.number);
  const count = Number(values.count);
  if (!values.code || !Number.isInteger(number))
    throw new UsageError(`--code and --number are required\n${DEVICES_USAGE}`);
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new UsageError("--count must be 1 to 100000");
  const created = [];
  for (let n = number; n < number + count; n++) {
    const { device, apiKey } = await createDevice(database.db, { code: values.code, number: n });
    created.push({ code: device.code, number: device.number, apiKey });
  }
  return count === 1 ? created[0] : created;
}
