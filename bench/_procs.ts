/**
 * `tickcast run <service>` as child processes, for the benchmarks that need
 * several instances on the real broker (bench/scale.ts). The same way of
 * spawning and watching as ts/test/pipeline/rebalance.test.ts (copied, as that
 * test keeps its helpers to itself): JSON log lines parsed and kept (except the
 * per-candle ones), the tail of the output kept for error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../ts/test/fixtures/paths.ts';
import { cleanEnv } from '../ts/test/fixtures/env.ts';

const BIN = join(REPO_ROOT, 'bin/tickcast.js');

export interface Proc {
  name: string;
  child: ChildProcess;
  logs: Record<string, unknown>[];
  text: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(f: () => T | Promise<T>, what: () => string, timeoutMs: number, everyMs = 200): Promise<NonNullable<T>> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(everyMs);
  }
}

export function spawnTickcast(name: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let text = '';
  let partial = '';
  child.stdout?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      text = (text + l + '\n').slice(-100_000);
      try {
        const j = JSON.parse(l) as Record<string, unknown>;
        if (typeof j.msg === 'string' && !j.msg.startsWith('candle closed') && !j.msg.startsWith('features stored')) logs.push(j);
      } catch {
        // not JSON
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => (text = (text + d.toString()).slice(-100_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { name, child, logs, text: () => text.slice(-3000), exited };
}

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
