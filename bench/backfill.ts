/**
 * Backfill benchmark (issue 21.5): a month of Kraken BTC/USD trades at the real
 * density through `tickcast backfill --file` into the embedded stores (SQLite),
 * timed end to end; prints trades/s against the goal (>= 1M trades/s).
 *
 * Data: the real Kraken XBT/USD trades of 2019-07-01 00:00-01:00 (2,672 trades
 * in the hour; data/sample, MIT) repeated hour after hour, each copy shifted by
 * whole hours (prices, amounts, sides and intra-hour times as recorded), for
 * BENCH_BACKFILL_DAYS days (default 30): 720 copies = 1,923,840 trades, written
 * to a temporary CSV in the file's own format before the timing.
 *
 * Timed: the CLI as a user runs it (`node bin/tickcast.js backfill --pair
 * BTC/USD --file month.csv`, a fresh process with a fresh data directory):
 * from spawn to exit, so Node's start-up, reading and parsing the file, the
 * candle and feature stages and every SQLite write (each batch on disk before
 * the next checkpoint) are in. BENCH_BACKFILL_RUNS runs (default 3): the best
 * counts, as in the other benchmarks, and the median is printed beside it. The
 * CLI's own summary (trades, candles, feature rows) is checked against the
 * input every run, and the in-process time (runBackfill alone, same file, best
 * of the same number of runs) is printed next to it.
 *
 *   node --import tsx bench/backfill.ts          BENCH_BACKFILL_DAYS=3 for a quick run
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { pino } from 'pino';
import { testData } from '../ts/test/fixtures/test-data.ts';
import { openStores } from '../ts/src/stores/index.ts';
import { runBackfill } from '../ts/src/pipeline/backfill.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SOURCE = 'trades/kraken_XBTUSD_trades_20190701T0000-0100.csv';
const HOUR = 3_600_000;
const GOAL = 1_000_000;

/** Writes `days` x 24 shifted copies of the hour; returns the trade count. */
async function buildMonth(path: string, days: number): Promise<{ trades: number; firstMs: number; lastMs: number }> {
  const lines = readFileSync(testData(SOURCE), 'utf8').trim().split('\n');
  const header = lines[0]!;
  const cols = header.split(',');
  const timeIdx = cols.indexOf('time');
  const isoIdx = cols.indexOf('timestamp');
  if (timeIdx < 0 || isoIdx < 0) throw new Error(`${SOURCE}: no time/timestamp column in ${header}`);
  const rows = lines.slice(1).map((l) => l.split(','));
  const base = Number(rows[0]![timeIdx]);
  // Every copy starts on the hour of the first trade.
  const hourStart = base - (base % HOUR);
  const out = createWriteStream(path);
  out.write(`${header}\n`);
  let trades = 0;
  let lastMs = 0;
  for (let k = 0; k < days * 24; k++) {
    const chunk: string[] = [];
    for (const f of rows) {
      const ms = Number(f[timeIdx]) + k * HOUR;
      const g = f.slice();
      g[timeIdx] = String(ms);
      g[isoIdx] = new Date(ms).toISOString();
      chunk.push(g.join(','));
      lastMs = ms;
      trades++;
    }
    if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { trades, firstMs: hourStart, lastMs };
}

export async function run(): Promise<void> {
  const days = Number(process.env.BENCH_BACKFILL_DAYS ?? 30);
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-bench-backfill-'));
  try {
    const file = join(dir, 'kraken_XBTUSD_month.csv');
    const { trades, firstMs, lastMs } = await buildMonth(file, days);
    const minutes = Math.floor(lastMs / 60_000) - Math.floor(firstMs / 60_000); // windows closed (the last one stays open)
    console.log(`backfill benchmark: ${trades.toLocaleString('en-US')} trades (Kraken XBT/USD 2019-07-01 00:00-01:00, ${(trades / days / 24).toFixed(0)} trades/hour, x ${days * 24} hours shifted), ${days} days`);

    const runs = Math.max(1, Number(process.env.BENCH_BACKFILL_RUNS ?? 3));
    // 1. The CLI, as a user runs it.
    const cliTimes: number[] = [];
    let candles = 0;
    let rows = 0;
    for (let k = 0; k < runs; k++) {
      const env = { ...process.env, TICKCAST_DATA_DIR: join(dir, `cli${k}`), TICKCAST_STORE: 'sqlite', TICKCAST_MODE: 'embedded', TICKCAST_LOG_LEVEL: 'warn' };
      const t0 = performance.now();
      const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'tickcast.js'), 'backfill', '--pair', 'BTC/USD', '--file', file], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
      cliTimes.push((performance.now() - t0) / 1000);
      if (res.status !== 0) throw new Error(`tickcast backfill exited ${res.status}: ${res.stderr.slice(-2000)}`);
      const m = /(\d+) trades -> (\d+) candles, (\d+) feature rows; (\d+) late, (\d+) duplicate, (\d+) rejected/.exec(res.stdout);
      if (!m) throw new Error(`unexpected CLI output: ${res.stdout}`);
      const [, gotTrades, c, r, late, dup, rejected] = m.map(Number) as number[];
      if (gotTrades !== trades || late !== 0 || dup !== 0 || rejected !== 0) throw new Error(`the CLI saw ${gotTrades} trades (${late} late, ${dup} duplicate, ${rejected} rejected), expected ${trades} clean ones`);
      if (k > 0 && (c !== candles || r !== rows)) throw new Error(`run ${k + 1}: ${c} candles, ${r} feature rows; run 1: ${candles}, ${rows}`);
      [candles, rows] = [c as number, r as number];
      rmSync(join(dir, `cli${k}`), { recursive: true, force: true });
    }

    // 2. runBackfill in this process (no process start-up), same file, fresh stores each run.
    const log = pino({ level: 'silent' });
    const inTimes: number[] = [];
    let r2 = { trades: 0, candles: 0, featureRows: 0 };
    for (let k = 0; k < runs; k++) {
      const stores = await openStores({ kind: 'sqlite', dataDir: join(dir, `inproc${k}`) }, log);
      const t1 = performance.now();
      r2 = await runBackfill({ exchange: 'kraken', pair: 'BTC/USD', file, checkpointPath: join(dir, `inproc${k}`, 'cp.json'), stores, logger: log });
      inTimes.push((performance.now() - t1) / 1000);
      await stores.close();
      rmSync(join(dir, `inproc${k}`), { recursive: true, force: true });
      if (r2.trades !== trades || r2.candles !== candles) throw new Error(`in-process run: ${r2.trades} trades, ${r2.candles} candles vs the CLI's ${trades}, ${candles}`);
    }
    const best = (xs: number[]) => Math.min(...xs);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const cliSeconds = best(cliTimes);
    const inSeconds = best(inTimes);

    const rate = trades / cliSeconds;
    console.table([
      { run: `tickcast backfill --file (CLI process, spawn to exit), best of ${runs}`, trades, candles, 'feature rows': rows, seconds: cliSeconds.toFixed(2), 'trades/s': Math.round(rate).toLocaleString('en-US'), goal: '>= 1,000,000', met: rate >= GOAL ? 'yes' : 'no' },
      { run: `  the same, median of ${runs}`, trades, candles, 'feature rows': rows, seconds: median(cliTimes).toFixed(2), 'trades/s': Math.round(trades / median(cliTimes)).toLocaleString('en-US'), goal: '', met: '' },
      { run: `runBackfill in process (no start-up), best of ${runs}`, trades, candles: r2.candles, 'feature rows': r2.featureRows, seconds: inSeconds.toFixed(2), 'trades/s': Math.round(trades / inSeconds).toLocaleString('en-US'), goal: '', met: '' },
    ]);
    console.log(`  CLI runs: ${cliTimes.map((t) => t.toFixed(2)).join(', ')} s; in-process runs: ${inTimes.map((t) => t.toFixed(2)).join(', ')} s`);
    console.log(`  ${minutes.toLocaleString('en-US')} one-minute windows spanned, ${candles.toLocaleString('en-US')} candles stored (minutes without a trade have none); the CLI's trade count checked against the input`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
