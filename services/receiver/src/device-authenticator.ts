import { createHash } from "node:crypto";
import type { AuthenticatedDevice } from "@vigil/devices";

/**
 * Verifies device API keys through `verify` (a database lookup) and keeps
 * positive answers for up to `cacheMs` (never past the key's own expiry),
 * so reconnect storms do not become database storms. Entries are keyed by
 * the key's hash: raw keys are not kept in memory. Revocations and disables
 * arrive as device events and drop a device's entries at once.
 */
export class DeviceAuthenticator {
  private readonly cache = new Map<string, { device: AuthenticatedDevice; until: number }>();
  private readonly verify: (apiKey: string) => Promise<AuthenticatedDevice | undefined>;
  private readonly cacheMs: number;
  private readonly now: () => number;

  constructor(verify: (apiKey: string) => Promise<AuthenticatedDevice | undefined>, cacheMs: number, now = Date.now) {
    this.verify = verify;
    this.cacheMs = cacheMs;
    this.now = now;
  }

  async authenticate(apiKey: string): Promise<AuthenticatedDevice | undefined> {
    const id = createHash("sha256").update(apiKey).digest("base64");
    const hit = this.cache.get(id);
    const now = this.now();
    if (hit && hit.until > now) return hit.device;
    this.cache.delete(id);
    const device = await this.verify(apiKey);
    if (device && this.cacheMs > 0) {
      this.cache.set(id, { device, until: Math.min(now + this.cacheMs, device.validUntilMs) });
    }
    return device;
  }

  /** Forgets every cached key of a device. */
  forgetDevice(deviceId: number): void {
    for (const [id, entry] of this.cache) if (entry.device.id === deviceId) this.cache.delete(id);
  }
}
