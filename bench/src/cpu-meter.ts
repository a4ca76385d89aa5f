import { processTable, treeCpuSecondsOf } from "./process-stats.ts";

const SAMPLE_MS = 500;

/** CPU seconds per group of processes, from start() to stop(). */
export interface CpuMeter {
  /** Meters more processes under a name (their CPU before this call is not counted). */
  add(name: string, pids: number[]): void;
  /** Stops sampling; CPU seconds per name, rounded to 0.1 s. */
  stop(): Record<string, number>;
}

/**
 * Meters the CPU of named groups of processes (each with its descendants),
 * sampling every half second so a process that exits before stop() still
 * counts up to its last sample.
 */
export function meterCpu(groups: Record<string, number[]>): CpuMeter {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const members = new Map<string, number[]>();
  // One read of the process table per sample serves every metered process.
  const sample = (pids: Iterable<number>, into: Map<number, number>) => {
    const table = processTable();
    for (const pid of pids) {
      const cpu = treeCpuSecondsOf(pid, table);
      if (cpu > 0) into.set(pid, cpu);
    }
  };
  const add = (name: string, pids: number[]) => {
    members.set(name, [...(members.get(name) ?? []), ...pids]);
    // From the CPU it has used so far, 0 for a process just started (which must still be sampled).
    const table = processTable();
    for (const pid of pids) if (table.has(pid)) first.set(pid, treeCpuSecondsOf(pid, table));
    for (const pid of pids) last.set(pid, first.get(pid) ?? 0);
  };
  for (const [name, pids] of Object.entries(groups)) add(name, pids);
  const timer = setInterval(() => sample(first.keys(), last), SAMPLE_MS);
  return {
    add,
    stop() {
      clearInterval(timer);
      sample(first.keys(), last);
      const out: Record<string, number> = {};
      for (const [name, pids] of members) {
        let sum = 0;
        for (const pid of pids) sum += (last.get(pid) ?? 0) - (first.get(pid) ?? 0);
        out[name] = Math.round(sum * 10) / 10;
      }
      return out;
    },
  };
}
