/**
 * Embedded store write benchmark: the rows `tickcast backfill --file` writes
 * for a month of Kraken BTC/USD trades (43,199 candles and as many technical
 * feature rows), written into a fresh SQLite store in the batches backfill
 * writes them in (one batch per 50,000 trades: ~1,100 candles, then their
 * feature rows), timed from opening the store to closing it. Prints rows/s
 * and CPU seconds per run and the best of the runs (the machine's other work
 * only ever adds time).
 *
 * The rows come from the real code: the real trades of 2019-07-01 00:00-01:00
 * (data/sample, 2,672 trades) repeated hour after hour with each copy shifted
 * by whole hours (as bench/backfill.ts builds its month), through
 * CandleStage.pushMany and FeatureStage; only the writes are timed.
 *
 * Other copies of the store module (BENCH_STORE_PEER, comma-separated) can be
 * measured in the same run beside the working tree's, e.g. the last commit's:
 *
 *   node --import tsx bench/store-write.ts
 *   BENCH_STORE_DAYS=3 BENCH_STORE_RUNS=5 node --import tsx bench/store-write.ts
 *   d=$(mktemp -d) && git archive HEAD ts | tar -x -C $d && ln -s $PWD/node_modules $d/node_modules && \
 *     BENCH_STORE_PEER=$d/ts/src/stores/sqlite-stores.ts node --import tsx bench/store-write.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import type { Candle, TechnicalFeatures, Trade } from '../ts/src/contracts/messages.ts';
import { CandleStage } from '../ts/src/pipeline/candle-stage.ts';
import { FeatureStage } from '../ts/src/pipeline/feature-stage.ts';
import { readTradeCsv } from '../ts/src/sources/trade-csv.ts';
import type { Stores } from '../ts/src/stores/types.ts';
import { testData } from '../ts/test/fixtures/test-data.ts';
import { openSqliteStores } from '../ts/src/stores/sqlite-stores.ts';

const SAMPLE = 'trades/kraken_XBTUSD_trades_20190701T0000-0100.csv';
const HOUR = 3_600_000;
const TRADES_PER_BATCH = 50_000; // backfill's FILE_BATCH
const DAYS = Number(process.env.BENCH_STORE_DAYS ?? 30);
const RUNS = Number(process.env.BENCH_STORE_RUNS ?? 3);
const logger = pino({ level: 'silent' });

type Open = (opts: { dataDir: string }, logger: Logger) => Stores;
interface Batch {
  candles: Candle[];
  rows: TechnicalFeatures[];
}

/** The month's candle and feature batches, as backfill forms them. */
async function buildBatches(): Promise<Batch[]> {
  const hour: Trade[] = [];
  for await (const b of readTradeCsv(testData(SAMPLE), { pair: 'BTC/USD' })) hour.push(...b.trades);
  const hourStart = (hour[0] as Trade).ts_ms - ((hour[0] as Trade).ts_ms % HOUR);
  const stage = new CandleStage({ intervalS: 60, graceMs: 5000 });
  const features = new FeatureStage(60);
  const batches: Batch[] = [];
  const store = (candles: Candle[]) => {
    if (candles.length === 0) return;
    const rows: TechnicalFeatures[] = [];
    for (const c of candles) {
      const out = features.onCandle(c);
      if (out.kind === 'row') rows.push(out.row);
    }
    batches.push({ candles, rows });
  };
  let pending: Trade[] = [];
  let id = 0;
  for (let k = 0; k < DAYS * 24; k++) {
    for (const t of hour) {
      pending.push({ ...t, trade_id: String(++id), ts_ms: t.ts_ms + k * HOUR });
      if (pending.length === TRADES_PER_BATCH) {
        store(stage.pushMany(pending).candles);
        pending = [];
      }
    }
  }
  if (pending.length > 0) store(stage.pushMany(pending).candles);
  store(stage.advance(hourStart + DAYS * 24 * HOUR - 1, 'BTC/USD'));
  return batches;
}

/** Writes every batch into a fresh store; seconds from open to close, wall and CPU (user + system). */
async function timeRun(open: Open, batches: Batch[]): Promise<{ wall: number; cpu: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tickcast-store-bench-'));
  try {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const stores = open({ dataDir }, logger);
    for (const b of batches) {
      const wc = await stores.features.candles.write(b.candles);
      const wf = await stores.features.technical.write(b.rows);
      if (wc.rejected.length + wf.rejected.length > 0) throw new Error(`rejected rows: ${wc.rejected[0]?.error.message ?? wf.rejected[0]?.error.message}`);
    }
    await stores.close();
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    return { wall, cpu: (c.user + c.system) / 1e6 };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const batches = await buildBatches();
  const candles = batches.reduce((n, b) => n + b.candles.length, 0);
  const rows = batches.reduce((n, b) => n + b.rows.length, 0);
  const featureBytes = batches.reduce((n, b) => n + b.rows.reduce((m, r) => m + JSON.stringify(r).length, 0), 0);
  console.log(`${DAYS} days: ${candles} candles + ${rows} feature rows (${Math.round(featureBytes / Math.max(rows, 1))} B of JSON each) in ${batches.length} batches`);

  const subjects: { name: string; open: Open }[] = [{ name: 'working tree', open: openSqliteStores as Open }];
  for (const peer of (process.env.BENCH_STORE_PEER ?? '').split(',').filter((p) => p !== '')) {
    const mod = (await import(pathToFileURL(resolve(peer)).href)) as { openSqliteStores: Open };
    subjects.push({ name: `peer ${peer}`, open: mod.openSqliteStores });
  }
  const best = new Map<string, { wall: number; cpu: number }>();
  const rate = (sec: number) => `${Math.round((candles + rows) / sec).toLocaleString('en')} rows/s`;
  for (let r = 0; r < RUNS; r++) {
    // Alternate the subjects so that neither always runs on a warmer (or busier) machine.
    for (const s of r % 2 === 0 ? subjects : [...subjects].reverse()) {
      const t = await timeRun(s.open, batches);
      const b = best.get(s.name);
      best.set(s.name, { wall: Math.min(b?.wall ?? Infinity, t.wall), cpu: Math.min(b?.cpu ?? Infinity, t.cpu) });
      console.log(`run ${r + 1} ${s.name}: ${t.wall.toFixed(3)} s (${rate(t.wall)}), CPU ${t.cpu.toFixed(3)} s`);
    }
  }
  for (const [name, b] of best) console.log(`best ${name}: ${b.wall.toFixed(3)} s (${rate(b.wall)}), CPU ${b.cpu.toFixed(3)} s`);
  const own = best.get('working tree') as { wall: number; cpu: number };
  for (const [name, b] of best) {
    if (name !== 'working tree') console.log(`working tree against ${name}: ${(b.wall / own.wall).toFixed(2)}x the rows/s, ${(own.cpu / b.cpu).toFixed(2)}x the CPU time`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
