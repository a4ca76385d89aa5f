import { treeCpuSecondsOf } from "./process-stats.ts";

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
  const read = (pid: number) => {
    const cpu = treeCpuSecondsOf(pid);
    if (cpu > 0) last.set(pid, cpu);
  };
  const add = (name: string, pids: number[]) => {
    members.set(name, [...(members.get(name) ?? []), ...pids]);
    for (const pid of pids) {
      first.set(pid, treeCpuSecondsOf(pid));
      read(pid);
    }
  };
  for (const [name, pids] of Object.entries(groups)) add(name, pids);
  const timer = setInterval(() => {
    for (const pid of first.keys()) read(pid);
  }, SAMPLE_MS);
  return {
    add,
    stop() {
      clearInterval(timer);
      for (const pid of first.keys()) read(pid);
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
