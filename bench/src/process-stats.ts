import { readdirSync, readFileSync } from "node:fs";

const CLOCK_TICKS_PER_S = 100;
export const MiB = 1024 * 1024;

/** Resident memory of a process, now and at its peak, in bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/** CPU seconds (user + system) a process has used so far (Linux /proc). */
export function cpuSecondsOf(pid: number): number {
  const { fields } = readStat(pid);
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** Open file descriptors of a process (sockets included). */
export function openFilesOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Pids of a process's children whose command name is `name` (Linux /proc). */
export function childPidsOf(parent: number, name: string): number[] {
  return [...processTable()].filter(([, p]) => p.ppid === parent && p.comm === name).map(([pid]) => pid);
}

/**
 * CPU seconds of a process and all its descendants, live or exited and
 * reaped (Linux /proc: utime, stime, cutime, cstime). For PostgreSQL's
 * postmaster this is the whole server: every backend, the WAL writer,
 * the checkpointer, autovacuum. Pass one `processTable()` to measure
 * several processes at the same moment without reading /proc again.
 */
export function treeCpuSecondsOf(pid: number, table = processTable()): number {
  const children = new Map<number, number[]>();
  for (const [child, p] of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), child]);
  let total = 0;
  const visit = (p: number) => {
    const f = table.get(p)?.fields;
    if (!f) return;
    total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS_PER_S;
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return total;
}

/** The postmaster listening on `port` (its command line names the port), or undefined. */
export function postmasterPid(port: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!cmdline[0]?.endsWith("/postgres")) continue;
      const p = cmdline.indexOf("-p");
      if (p >= 0 && Number(cmdline[p + 1]) === port) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

/** One process's /proc/PID/stat: its command name, parent, and the fields after the name. */
export interface ProcessStat {
  comm: string;
  ppid: number;
  /** The fields after the command name (state is [0], ppid [1], utime [11] …). */
  fields: string[];
}

/** Every live process's stat, read once (Linux /proc). */
export function processTable(): Map<number, ProcessStat> {
  const table = new Map<number, ProcessStat>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      table.set(Number(entry), readStat(Number(entry)));
    } catch {
      // The process ended while we looked.
    }
  }
  return table;
}

function readStat(pid: number): ProcessStat {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name is in parentheses and may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), ppid: Number(fields[1]), fields };
}
