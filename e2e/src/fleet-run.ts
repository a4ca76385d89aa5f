import { type DeviceIdentity, Fleet, type FleetOptions } from "@vigil/simulator";
import { waitFor } from "@vigil/testkit";

/**
 * Runs a fleet in fast mode until every device has sent and seen acked its
 * batch budget, then stops it.
 */
export async function runFleetToCompletion(
  identities: DeviceIdentity[],
  options: Partial<FleetOptions> & { target: string; maxBatches: number },
  timeoutMs = 120_000,
): Promise<Fleet> {
  const fleet = new Fleet(identities, {
    devicesPerConnection: 10,
    intervalMs: 25,
    samplesPerBatch: 25,
    maxBufferedBatches: 1_000,
    clock: "fast",
    ...options,
  });
  fleet.start();
  const expected = identities.length * options.maxBatches;
  try {
    await waitFor(
      `${expected} acked batches`,
      () => fleet.stats.batchesAcked + fleet.stats.batchesRejected >= expected,
      timeoutMs,
      100,
    );
  } finally {
    await fleet.stop();
  }
  return fleet;
}
