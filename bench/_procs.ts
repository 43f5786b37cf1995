/**
 * `tickcast run <service>` as child processes, for the benchmarks that need
 * several instances on the real broker (bench/scale.ts): the rebalance tests'
 * helpers (ts/test/fixtures/service-procs.ts) and CPU readings from /proc.
 */
import { readFileSync } from 'node:fs';

export { sleep, spawnTickcast, until, type Proc } from '../ts/test/fixtures/service-procs.ts';

/** CPU time (user + system) of a process so far, in seconds, from /proc (Linux); null when unreadable. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine (/proc/stat), for the share of the cores in use. */
export function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}
