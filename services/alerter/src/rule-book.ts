import { type DeviceFacts, loadActiveRules, type Rule, rulesVersion, selects } from "@vigil/alerts";
import { devicePartition } from "@vigil/bus";
import type { Database, Kysely } from "@vigil/db";
import type { AnyDetector } from "./detectors/detector.ts";
import { detectorFor } from "./detectors/detectors.ts";

export interface KnownDevice extends DeviceFacts {
  id: number;
}

/** A rule ready to evaluate: its detector and a key prefix for its series states. */
export interface CompiledRule {
  rule: Rule;
  detector: AnyDetector;
  /** "<rule id>@<rule version>": states of an older version are dropped. */
  key: string;
}

const EMPTY: CompiledRule[] = [];

/**
 * The rules and devices the alerter evaluates, re-read when they change,
 * with the lookup the hot path needs: which rules apply to a device's
 * sensor (memoised per device and sensor until the next change).
 */
export class RuleBook {
  private rules: CompiledRule[] = [];
  private devices = new Map<number, KnownDevice>();
  private bySeries = new Map<number, Map<string, CompiledRule[]>>();
  private version = "";
  private devicesReadAt = 0;
  private readonly db: Kysely<Database>;
  /** Bumped on every change, so workers know to re-plan absence checks. */
  generation = 0;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  get ruleCount(): number {
    return this.rules.length;
  }

  /** Re-reads rules when their version moved, devices every `devicesEveryMs` or when forced. */
  async refresh(options: { devicesEveryMs: number; forceDevices?: boolean }): Promise<boolean> {
    let changed = false;
    const version = await rulesVersion(this.db);
    if (version !== this.version) {
      const rules = await loadActiveRules(this.db);
      this.rules = rules.flatMap((rule) => {
        const detector = detectorFor(rule.condition.kind);
        return detector ? [{ rule, detector, key: `${rule.id}@${rule.version}` }] : [];
      });
      this.version = version;
      changed = true;
    }
    if (options.forceDevices || Date.now() - this.devicesReadAt >= options.devicesEveryMs) {
      const rows = await this.db
        .selectFrom("devices")
        .select(["id", "code", "number", "kind", "site", "labels"])
        .execute();
      const next = new Map<number, KnownDevice>();
      for (const r of rows) next.set(r.id, { ...r, labels: r.labels ?? {} });
      if (next.size !== this.devices.size || rows.some((r) => !sameDevice(this.devices.get(r.id), r))) changed = true;
      this.devices = next;
      this.devicesReadAt = Date.now();
    }
    if (changed) {
      this.bySeries.clear();
      this.generation++;
    }
    return changed;
  }

  /** "<rule id>@<version>" of every rule evaluated: series states under other keys are stale. */
  activeRuleKeys(): string[] {
    return this.rules.map((c) => c.key);
  }

  device(id: number): KnownDevice | undefined {
    return this.devices.get(id);
  }

  /** Rules that evaluate readings of this device's sensor. */
  forSeries(deviceId: number, sensor: string): CompiledRule[] {
    let perDevice = this.bySeries.get(deviceId);
    if (!perDevice) {
      perDevice = new Map();
      this.bySeries.set(deviceId, perDevice);
    }
    let list = perDevice.get(sensor);
    if (!list) {
      const device = this.devices.get(deviceId);
      list = device
        ? this.rules.filter(
            (c) =>
              selects(c.rule.devices, device) &&
              // Absence without sensors watches the device as a whole: any sensor counts.
              (c.rule.sensors.length === 0 || c.rule.sensors.includes(sensor)),
          )
        : EMPTY;
      perDevice.set(sensor, list);
    }
    return list;
  }

  /** The absence series of one partition's devices: rule × device × sensor ("" for the device). */
  absenceSeries(
    partition: number,
    partitions: number,
  ): Array<{ compiled: CompiledRule; device: KnownDevice; sensor: string }> {
    const absence = this.rules.filter((c) => c.rule.condition.kind === "absence");
    if (absence.length === 0) return [];
    const out: Array<{ compiled: CompiledRule; device: KnownDevice; sensor: string }> = [];
    for (const device of this.devices.values()) {
      if (devicePartition(device, partitions) !== partition) continue;
      for (const compiled of absence) {
        if (!selects(compiled.rule.devices, device)) continue;
        const sensors = compiled.rule.sensors.length > 0 ? compiled.rule.sensors : [""];
        for (const sensor of sensors) out.push({ compiled, device, sensor });
      }
    }
    return out;
  }

  /** Devices of one partition (for gap alerts). */
  partitionDevices(partition: number, partitions: number): KnownDevice[] {
    return [...this.devices.values()].filter((d) => devicePartition(d, partitions) === partition);
  }
}

function sameDevice(a: KnownDevice | undefined, b: KnownDevice): boolean {
  return (
    a !== undefined &&
    a.code === b.code &&
    a.number === b.number &&
    a.kind === b.kind &&
    a.site === b.site &&
    JSON.stringify(a.labels) === JSON.stringify(b.labels ?? {})
  );
}
