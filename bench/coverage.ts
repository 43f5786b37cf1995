// Live coverage of the served 80% and 90% price intervals (issue 18 goal:
// live 90% coverage within 88-92%), measured two ways:
//
// 1. `--file <candles.csv>` (default: the 31-day FTX BTC-PERP month, then the
//    two bundled Coinbase samples): a walk-forward replay through the live
//    path. The candles become feature rows by the live FeatureStage
//    (training/dataset.ts technicalRowsFromCandles); the feature store gets
//    each row before the predictor sees it, as the features service does. The
//    range model is trained the way the trainer service retrains
//    (training/training-run.ts runTraining, store source, promotion rule)
//    on the rows up to the start of serving (--train-days), then again every
//    --retrain-days on every row known by then: a model only ever serves rows
//    after the data it was trained on. Every row after the first training
//    goes over the in-process bus to the predictor service
//    (pipeline/predictor-service.ts: target predictor, online calibration,
//    SQLite prediction store), whose prediction messages are collected.
// 2. `--store <dataDir>`: the predictions an embedded run (`make run`, the
//    bundled trades replayed) stored in its SQLite stores, resolved against
//    the candles that run stored.
//
// Resolution is a naive, independent computation: the close at each
// message's target_ms is read from the candle file itself (its own CSV
// parse here, real bars only: a target minute with no bar is not counted) or
// from the run's stored candles, and an interval covers when
// lo <= close <= hi. The same is computed for the model's own (uncalibrated)
// bands, last_close · e^q, to show what the online calibration changes.
//
// Run: node --import tsx bench/coverage.ts [--file f.csv --pair BTC/USD] [--store dir] [--train-days 7] [--retrain-days 7] [--step η]
// (`--help` for everything). As a bench program (`make bench`), run() does the
// FTX month and the two samples with the defaults.
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import os, { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Bus, MemoryTransport } from '../ts/src/bus/index.ts';
import { openStores } from '../ts/src/stores/index.ts';
import { loadConfig } from '../ts/src/config/config.ts';
import type { ServiceContext } from '../ts/src/services/runner.ts';
import type { Prediction } from '../ts/src/contracts/messages.ts';
import { predictorService } from '../ts/src/pipeline/predictor-service.ts';
import { folderRegistry } from '../ts/src/registry/folder-registry.ts';
import { readCandleCsv } from '../ts/src/training/candle-csv.ts';
import { technicalRowsFromCandles } from '../ts/src/training/dataset.ts';
import { runTraining } from '../ts/src/training/training-run.ts';
import { DEFAULT_STEP } from '../ts/src/model/online-calibration.ts';

const DAY = 86_400_000;
const FTX = 'candles/ftx_BTC-PERP_1m_20211231-20220201.csv';
const SAMPLES = ['coinbase_BTCUSD_1m_lean.csv', 'coinbase_ETHUSD_1m_lean.csv'];
const ROOT = new URL('../', import.meta.url).pathname;

const HELP = `bench/coverage.ts: live coverage of the served 80% / 90% intervals (issue 18).

  node --import tsx bench/coverage.ts                      FTX month + both bundled samples, walk-forward
  node --import tsx bench/coverage.ts --file F --pair P    one candle CSV, walk-forward through the predictor service
  node --import tsx bench/coverage.ts --store DIR          predictions stored by a run (TICKCAST_DATA_DIR=DIR), resolved on its stored candles

Options:
  --file PATH          candle CSV (Coinbase lean or FTX format)
  --pair PAIR          pair the file is served as (default BTC/USD)
  --train-days N       days of rows the first model is trained on before serving starts (default 7)
  --retrain-days N     retrain every N days on all rows known by then (default 7; 0 = never)
  --store DIR          resolve a run's stored predictions instead
  --step X             online calibration step (default ${DEFAULT_STEP}, the served default)
  --no-progress        no progress bar
  -h, --help           this text
`;

interface Coverage {
  n: number;
  unresolved: number;
  hit80: number;
  hit90: number;
  rawHit80: number;
  rawHit90: number;
  /** Coverage of the 90% interval per day (UTC) of target time. */
  days: Map<string, { n: number; hit: number }>;
}

/** Naive resolution: close at target_ms (closeAt), hit when lo <= close <= hi. */
export function resolveCoverage(preds: readonly Prediction[], closeAt: (t_ms: number) => number | undefined): Coverage {
  const c: Coverage = { n: 0, unresolved: 0, hit80: 0, hit90: 0, rawHit80: 0, rawHit90: 0, days: new Map() };
  for (const p of preds) {
    const r = p.range;
    if (!r) continue;
    const y = closeAt(p.target_ms);
    if (y === undefined) {
      c.unresolved++;
      continue;
    }
    c.n++;
    const in90 = r.lo90 <= y && y <= r.hi90;
    if (r.lo80 <= y && y <= r.hi80) c.hit80++;
    if (in90) c.hit90++;
    if (p.last_close * Math.exp(r.q10) <= y && y <= p.last_close * Math.exp(r.q90)) c.rawHit80++;
    if (p.last_close * Math.exp(r.q05) <= y && y <= p.last_close * Math.exp(r.q95)) c.rawHit90++;
    const day = new Date(p.target_ms).toISOString().slice(0, 10);
    const d = c.days.get(day) ?? { n: 0, hit: 0 };
    d.n++;
    if (in90) d.hit++;
    c.days.set(day, d);
  }
  return c;
}

/** The closes of a candle CSV's real bars by window end (its own parse: time column, close column). */
export function csvCloses(path: string): Map<number, number> {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
  const head = lines.shift()!.split(',');
  const tCol = head.includes('time_utc') ? head.indexOf('time_utc') : head.indexOf('timestamp');
  const cCol = head.indexOf('close');
  const out = new Map<number, number>();
  for (const l of lines) {
    const f = l.split(',');
    const s = f[tCol]!;
    const start = Date.parse(s.includes('T') ? s : `${s.replace(' ', 'T')}Z`);
    const close = Number(f[cCol]);
    if (Number.isFinite(start) && close > 0) out.set(start + 60_000, close);
  }
  return out;
}

const pct = (k: number, n: number) => (n > 0 ? `${((100 * k) / n).toFixed(2)}%` : 'n/a');

function progress(enabled: boolean, label: string): (done: number, total: number, note?: string) => void {
  const t0 = performance.now();
  let last = 0;
  return (done, total, note = '') => {
    if (!enabled) return;
    const now = performance.now();
    if (done < total && now - last < 250) return;
    last = now;
    const w = 30;
    const f = Math.round((w * done) / Math.max(1, total));
    const el = (now - t0) / 1000;
    const eta = done > 0 ? (el * (total - done)) / done : 0;
    process.stderr.write(`\r${label} [${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total} ${el.toFixed(0)} s, eta ${eta.toFixed(0)} s ${note}    ${done >= total ? '\n' : ''}`);
  };
}

export interface ReplayOptions {
  file: string;
  pair: string;
  trainDays: number;
  retrainDays: number;
  step?: number;
  showProgress?: boolean;
}

export interface ReplayResult {
  label: string;
  predictions: Prediction[];
  coverage: Coverage;
  models: { at: string; version: string; status: string; reason: string }[];
  servedFrom: string;
  servedTo: string;
  seconds: number;
}

/** Walk-forward replay of a candle file through the predictor service (see the header). */
export async function replayFile(o: ReplayOptions): Promise<ReplayResult> {
  const t0 = performance.now();
  const logger = pino({ level: 'silent' });
  const { segments } = readCandleCsv(o.file, { pair: o.pair });
  const { rows } = technicalRowsFromCandles(segments);
  rows.sort((a, b) => a.window_end_ms - b.window_end_ms);
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-coverage-'));
  const registry = folderRegistry(join(dir, 'registry'));
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  const predictions: Prediction[] = [];
  const models: ReplayResult['models'] = [];
  const svc = predictorService({ registry, pollMs: 0, ...(o.step !== undefined ? { calibrationStep: o.step } : {}) });
  try {
    await bus.start();
    await bus.consume({ group: 'coverage', topics: ['predictions'], fromBeginning: true, handler: (p) => void predictions.push(p) });
    const first = rows[0]!.window_end_ms;
    const serveFrom = first + o.trainDays * DAY;
    const serveRows = rows.filter((r) => r.window_end_ms > serveFrom);
    if (serveRows.length === 0) throw new Error(`${o.file}: no rows after the first ${o.trainDays} training days`);
    let stored = 0;
    const storeUpTo = async (t: number) => {
      let j = stored;
      while (j < rows.length && rows[j]!.window_end_ms <= t) j++;
      for (let k = stored; k < j; k += 2000) {
        const w = await stores.features.technical.write(rows.slice(k, Math.min(j, k + 2000)));
        if (w.rejected.length > 0) throw new Error(`feature row rejected by the store: ${w.rejected[0]!.error.message}`);
      }
      stored = j;
    };
    const train = async (t: number, first: boolean) => {
      await storeUpTo(t);
      const r = await runTraining({ registry, pair: o.pair, source: { kind: 'store', stores, toMs: t }, kind: 'lightgbm', target: 'range', folds: 4 });
      let status: string = r.meta.status;
      let reason = r.meta.reason;
      if (first && status !== 'production') {
        // Without a first model nothing is served: promote it, and say so.
        await registry.promote(r.meta.version, 'coverage replay: first walk-forward model promoted although the rule rejected it');
        status = 'production (forced: first model)';
        reason = `${reason}`;
      }
      models.push({ at: new Date(t).toISOString(), version: r.meta.version, status, reason });
    };
    const bar = progress(o.showProgress ?? true, basename(o.file));
    bar(0, serveRows.length, 'training the first model');
    await train(serveFrom, true);
    const ctx: ServiceContext = { config: loadConfig({ env: { TICKCAST_DATA_DIR: dir } }), logger, bus, stores: async () => stores, signal: new AbortController().signal };
    await svc.start(ctx);
    let nextRetrain = o.retrainDays > 0 ? serveFrom + o.retrainDays * DAY : Infinity;
    for (let i = 0; i < serveRows.length; i++) {
      const row = serveRows[i]!;
      if (row.window_end_ms > nextRetrain) {
        // The last retrain boundary before this row (a gap in the data may span several).
        while (nextRetrain + o.retrainDays * DAY < row.window_end_ms) nextRetrain += o.retrainDays * DAY;
        bar(i, serveRows.length, 'retraining');
        await train(nextRetrain, false);
        nextRetrain += o.retrainDays * DAY;
      }
      if (stored < rows.length && rows[stored]!.window_end_ms <= row.window_end_ms) await storeUpTo(row.window_end_ms + 500 * 60_000);
      await bus.publish('featuresTechnical', [row]);
      await bus.drain();
      bar(i + 1, serveRows.length, `${predictions.length} messages`);
    }
    const closes = csvCloses(o.file);
    return {
      label: `${basename(o.file)} as ${o.pair}`,
      predictions,
      coverage: resolveCoverage(predictions, (t) => closes.get(t)),
      models,
      servedFrom: new Date(serveRows[0]!.window_end_ms).toISOString(),
      servedTo: new Date(serveRows.at(-1)!.window_end_ms).toISOString(),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await svc.stop();
    await bus.close();
    await stores.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The predictions a run stored (SQLite under dataDir), resolved on the candles it stored. */
export async function storedRun(dataDir: string): Promise<{ label: string; perPair: { pair: string; coverage: Coverage; predictions: number; from: string; to: string }[] }> {
  const logger = pino({ level: 'silent' });
  const stores = await openStores({ kind: 'sqlite', dataDir }, logger);
  try {
    const perPair = [];
    for (const pair of ['BTC/USD', 'ETH/USD']) {
      const preds = await stores.predictions.predictions.range({ pair });
      const candles = await stores.features.candles.range({ pair, interval_s: 60 });
      const closes = new Map(candles.map((c) => [c.window_end_ms, c.close]));
      const withRange = preds.filter((p) => p.range);
      perPair.push({
        pair,
        coverage: resolveCoverage(preds, (t) => closes.get(t)),
        predictions: withRange.length,
        from: withRange[0] ? new Date(withRange[0].made_at_ms).toISOString() : '-',
        to: withRange.at(-1) ? new Date(withRange.at(-1)!.made_at_ms).toISOString() : '-',
      });
    }
    return { label: `run stored in ${dataDir}`, perPair };
  } finally {
    await stores.close();
  }
}

function tableRow(label: string, c: Coverage, extra: string): string {
  return `| ${label} | ${c.n} (${c.unresolved} unresolved) | ${pct(c.hit80, c.n)} | ${pct(c.hit90, c.n)} | ${pct(c.rawHit80, c.n)} | ${pct(c.rawHit90, c.n)} | ${c.n > 0 && Math.abs(c.hit90 / c.n - 0.9) <= 0.02 ? 'met' : 'NOT met'} | ${extra} |`;
}

const HEADER = '| replay | intervals resolved | 80% coverage | 90% coverage | model bands alone 80% | model bands alone 90% | goal 88-92% | run |\n| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |';

function printReplay(r: ReplayResult, o: ReplayOptions): void {
  const daily = [...r.coverage.days.values()].filter((d) => d.n >= 100).map((d) => d.hit / d.n);
  console.log(
    tableRow(
      r.label,
      r.coverage,
      `served ${r.servedFrom.slice(0, 16)} .. ${r.servedTo.slice(0, 16)}, first model on ${o.trainDays} d, retrain every ${o.retrainDays || '∞'} d (${r.models.length} trainings), daily 90% coverage ${daily.length ? `${(100 * Math.min(...daily)).toFixed(1)}-${(100 * Math.max(...daily)).toFixed(1)}%` : 'n/a'}, ${r.seconds.toFixed(0)} s`,
    ),
  );
  for (const m of r.models) console.log(`    model trained up to ${m.at}: ${m.version} ${m.status} (${m.reason})`);
}

export async function run(): Promise<void> {
  const ftx = join(homedir(), '.cache', 'tickcast', 'test-data', FTX);
  const jobs: ReplayOptions[] = [];
  const showProgress = process.stderr.isTTY ?? false;
  if (existsSync(ftx)) jobs.push({ file: ftx, pair: 'BTC/USD', trainDays: 7, retrainDays: 7, showProgress });
  else console.log(`(FTX month not in the test-data cache: ${ftx}; \`make bench\` fetches it)`);
  jobs.push({ file: join(ROOT, 'data', 'sample', 'candles', SAMPLES[0]!), pair: 'BTC/USD', trainDays: 3, retrainDays: 2, showProgress });
  jobs.push({ file: join(ROOT, 'data', 'sample', 'candles', SAMPLES[1]!), pair: 'ETH/USD', trainDays: 1.5, retrainDays: 1, showProgress });
  console.log(`live interval coverage, walk-forward through the predictor service (calibration step ${DEFAULT_STEP}); load average ${os.loadavg()[0]!.toFixed(1)}`);
  console.log(HEADER);
  for (const j of jobs) printReplay(await replayFile(j), j);
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string' },
      pair: { type: 'string', default: 'BTC/USD' },
      'train-days': { type: 'string', default: '7' },
      'retrain-days': { type: 'string', default: '7' },
      store: { type: 'string' },
      step: { type: 'string' },
      'no-progress': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const num = (name: string, v: string | undefined): number => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x) || x < 0) throw new Error(`--${name} must be a number >= 0, got ${JSON.stringify(v)}`);
    return x;
  };
  if (values.store) {
    if (!existsSync(values.store)) throw new Error(`--store ${values.store}: no such folder`);
    const r = await storedRun(values.store);
    console.log(`live interval coverage of the ${r.label} (resolved on its stored candles); load average ${os.loadavg()[0]!.toFixed(1)}`);
    console.log(HEADER);
    for (const p of r.perPair) console.log(tableRow(p.pair, p.coverage, `${p.predictions} messages with a range, made ${p.from.slice(0, 19)} .. ${p.to.slice(0, 19)}`));
    return;
  }
  if (!values.file) {
    await run();
    return;
  }
  if (!existsSync(values.file)) throw new Error(`--file ${values.file}: no such file`);
  const o: ReplayOptions = {
    file: values.file,
    pair: values.pair,
    trainDays: num('train-days', values['train-days']),
    retrainDays: num('retrain-days', values['retrain-days']),
    ...(values.step !== undefined ? { step: num('step', values.step) } : {}),
    showProgress: !values['no-progress'],
  };
  console.log(`live interval coverage, walk-forward through the predictor service (calibration step ${o.step ?? DEFAULT_STEP}); load average ${os.loadavg()[0]!.toFixed(1)}`);
  console.log(HEADER);
  printReplay(await replayFile(o), o);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    await main(process.argv.slice(2));
  } catch (e) {
    console.error(`bench/coverage.ts: ${(e as Error).message}`);
    process.exitCode = 2;
  }
}
