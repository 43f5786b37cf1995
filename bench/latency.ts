/**
 * Live latency benchmark (issue 21.4): real trades replayed at their real pace
 * (1x) through the services of a running system, and per closed minute the
 * time from the end of its grace period to
 *   (a) its feature row stored,
 *   (b) its prediction published on the bus,
 *   (c) its prediction received by a websocket client,
 * p50 / p99 (with the candle on the bus as a step before (a)).
 * Goals: p99 (c) under 20 ms embedded, under 250 ms through Kafka + Elasticsearch.
 *
 * The system: the `candles`, `features`, `predictor` and `api` services of the
 * service registry, built from a configuration as `tickcast run` builds them,
 * in one Runner (one process); trades come in as the ingest service sends a
 * file replay: a ReplaySource at the chosen speed into the TradeOutbox, onto
 * `trades`, heartbeats included. The websocket client is a real `ws` client in
 * its own process (bench/_latency-client.ts), subscribed to both pairs on the
 * API server's /v1/ws.
 *
 * Data: the real Binance BTCUSDT + ETHUSDT trades of 2024-08-08 23:54 to
 * 00:05 (MIT; data/test/trades, via testData), copied back to back with times
 * shifted by whole minutes and new ids. The copies before the live part (245
 * minutes, sent at full speed before the clock starts) give the predictor the
 * 240 closes of context the embedded run's range baseline needs (the
 * Gaussian-EWMA bands served when a pair has no production range model, as
 * in the embedded part: no model is trained there) and warm every feature.
 * Production mode serves no baseline, so the Kafka part first trains a range
 * model per pair on the bundled real Coinbase candles and promotes it in the
 * Elasticsearch registry (promoteRangeModels). The live part is
 * `--minutes` minutes of the copies that follow, replayed at `--speed`, the
 * live part starting in the minute before the run starts (event time runs
 * behind the wall clock by the warm-up time plus less than a minute).
 *
 * Times: the end of the grace period of a window ending at E is the wall time
 * at which the replay's event clock reaches E + grace (the replay maps event
 * time t to wall time w0 + (t - t0) / speed from its first trade, t0 at w0;
 * w0 is read through the clock it is given). Everything is stamped on the
 * machine-wide monotonic clock (process.hrtime), in both processes. The
 * window closes when the first trade or heartbeat of the pair at or after
 * E + grace reaches the candles service: with Binance's density that is
 * usually within milliseconds; a quiet pair's window is closed by the
 * heartbeat the replay sends every pair as its event clock reaches E + grace
 * (ReplaySource closeTicks, as the ingest service's replay does; before them
 * a quiet pair waited up to a second for its next regular heartbeat).
 * Instrumentation (wrappers, not changes of the services): the feature
 * store's write (stamped when it resolves), the bus's publish of
 * `predictions` (stamped when it resolves), consumers of `candles` in a group
 * of their own.
 *
 *   node --import tsx bench/latency.ts [--minutes N] [--speed X] [--parts embedded,kafka]
 *     --minutes  live minutes replayed (default 5; BENCH_LATENCY_MINUTES)
 *     --speed    replay speed, 1 = real pace (default 1; BENCH_LATENCY_SPEED)
 *     --parts    embedded (in-process bus + SQLite) and/or kafka (real Kafka +
 *                Elasticsearch, when TICKCAST_TEST_KAFKA_BROKERS and
 *                TICKCAST_TEST_ES_URL are set, as under scripts/services/with-services.sh);
 *                default: both (BENCH_LATENCY_PARTS)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import type { Trade, TechnicalFeatures, Candle } from '../ts/src/contracts/messages.ts';
import { loadConfig, type Config } from '../ts/src/config/config.ts';
import { createBus } from '../ts/src/bus/index.ts';
import { openStores } from '../ts/src/stores/index.ts';
import type { Stores } from '../ts/src/stores/types.ts';
import { Runner, storesConfigOf, type Service, type ServiceContext } from '../ts/src/services/runner.ts';
import { resolveServices } from '../ts/src/services/registry.ts';
import { readTradeCsv } from '../ts/src/sources/index.ts';
import { ReplaySource } from '../ts/src/sources/replay.ts';
import { TradeOutbox } from '../ts/src/pipeline/trade-outbox.ts';
import { busSink } from '../ts/src/pipeline/ingest-service.ts';
import { CONTEXT_RETURNS } from '../ts/src/model/context-features.ts';
import { families } from '../ts/src/model/targets.ts';
import { registryOf } from '../ts/src/registry/index.ts';
import { readCandleCsv } from '../ts/src/training/candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from '../ts/src/training/dataset.ts';
import { trainTarget } from '../ts/src/training/target-trainer.ts';
import { testData } from '../ts/test/fixtures/test-data.ts';

const here = dirname(fileURLToPath(import.meta.url));
const MIN = 60_000;
const PAIRS = ['BTC/USDT', 'ETH/USDT'];
const FILES = ['BTCUSDT', 'ETHUSDT'].map((s) => `trades/binance_spot_${s}_trades_20240808T2354-20240809T0005.csv`);
/** Minutes of history before the live part: the predictor's context (CONTEXT_RETURNS returns) and a margin. */
const HISTORY_MIN = CONTEXT_RETURNS + 5;
const GOALS_MS: Record<string, number> = { embedded: 20, kafka: 250 };

/** Milliseconds on the machine-wide monotonic clock (comparable across processes). */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

interface Options {
  minutes: number;
  speed: number;
  parts: string[];
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes('--help')) {
    console.log('node --import tsx bench/latency.ts [--minutes N (default 5)] [--speed X (default 1 = real pace)] [--parts embedded,kafka]');
    process.exit(0);
  }
  const minutes = Number(get('minutes') ?? process.env.BENCH_LATENCY_MINUTES ?? 5);
  const speed = Number(get('speed') ?? process.env.BENCH_LATENCY_SPEED ?? 1);
  const parts = (get('parts') ?? process.env.BENCH_LATENCY_PARTS ?? 'embedded,kafka').split(',').filter(Boolean);
  if (!(Number.isInteger(minutes) && minutes >= 1 && minutes <= 600)) throw new Error(`--minutes must be a whole number from 1 to 600, got ${minutes}`);
  if (!(speed > 0 && Number.isFinite(speed))) throw new Error(`--speed must be a positive number, got ${speed}`);
  const unknown = parts.filter((p) => p !== 'embedded' && p !== 'kafka');
  if (unknown.length > 0) throw new Error(`unknown part(s) ${unknown.join(', ')}: embedded, kafka`);
  return { minutes, speed, parts };
}

/** The base block (both pairs, time order) and its length in whole minutes. */
async function baseTrades(): Promise<{ trades: Trade[]; startMs: number; lengthMs: number }> {
  const trades: Trade[] = [];
  for (const f of FILES) for await (const b of readTradeCsv(testData(f), { exchange: 'binance' })) trades.push(...b.trades);
  trades.sort((a, b) => a.ts_ms - b.ts_ms);
  const pairs = [...new Set(trades.map((t) => t.pair))].sort();
  if (pairs.join() !== [...PAIRS].sort().join()) throw new Error(`expected trades of ${PAIRS.join(', ')}, got ${pairs.join(', ')}`);
  const startMs = Math.floor(trades[0]!.ts_ms / MIN) * MIN;
  const lengthMs = Math.floor(trades.at(-1)!.ts_ms / MIN) * MIN + MIN - startMs;
  return { trades, startMs, lengthMs };
}

/** Copies k = from.. of the block, each shifted by `shift + k * length` with ids + k * 10^10, with shifted times in [fromMs, toMs). */
function copies(base: Trade[], lengthMs: number, shift: number, fromMs: number, toMs: number): Trade[] {
  const out: Trade[] = [];
  const k0 = Math.floor((fromMs - shift - base[0]!.ts_ms) / lengthMs) - 1;
  for (let k = Math.max(0, k0); ; k++) {
    const s = shift + k * lengthMs;
    if (base[0]!.ts_ms + s >= toMs) break;
    for (const t of base) {
      const ts = t.ts_ms + s;
      if (ts >= fromMs && ts < toMs) out.push({ ...t, trade_id: String(Number(t.trade_id) + k * 1e10), ts_ms: ts });
    }
  }
  return out;
}

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : Number.NaN;
};

const freePort = (): Promise<number> =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });

/** The websocket client process; resolves once it has every pair's snapshot. */
async function startClient(url: string, onPrediction: (pair: string, madeAt: number, at: number) => void): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, '_latency-client.ts'), url, PAIRS.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((res, rej) => {
    child.once('exit', (code) => rej(new Error(`websocket client exited (${code}) before it was ready`)));
    lines.on('line', (l) => {
      if (l === 'ready') res();
      else if (l.startsWith('p ')) {
        const [, pair, made, at] = l.split(' ');
        onPrediction(pair!, Number(made), Number(at));
      }
    });
  });
  child.removeAllListeners('exit');
  return child;
}

interface PartResult {
  part: string;
  rows: Record<string, string | number>[];
  windows: number;
  p99c: number;
}

/** One part: the system on `config`, warmed with the history, then the live minutes at `speed`. */
async function measure(part: string, config: Config, opts: Options, log: Logger): Promise<PartResult> {
  const { trades: base, startMs, lengthMs } = await baseTrades();
  const grace = config.candleGraceMs;
  // The live part starts in the minute before now; the history copies end where it starts.
  const liveStart = Math.floor(Date.now() / MIN) * MIN - MIN;
  const shift0 = liveStart - startMs - Math.ceil((HISTORY_MIN * MIN) / lengthMs) * lengthMs; // copy 0 starts at least HISTORY_MIN before
  const history = copies(base, lengthMs, shift0, -Infinity, liveStart);
  // The live minutes, plus the grace and a second so that the last one closes too.
  const live = copies(base, lengthMs, shift0, liveStart, liveStart + opts.minutes * MIN + grace + 1000);

  const stores: Stores = await openStores(storesConfigOf(config), log);
  const bus = createBus(config, log);
  const stamps = { closer: new Map<string, number>(), candle: new Map<string, number>(), stored: new Map<string, number>(), published: new Map<string, number>(), received: new Map<string, number>() };
  const key = (pair: string, endMs: number) => `${pair}|${endMs}`;
  // Instrumentation: the feature store's write and the bus's publish of predictions, stamped when they resolve.
  const tech = stores.features.technical;
  const write = tech.write.bind(tech);
  (tech as { write: typeof write }).write = async (docs: readonly TechnicalFeatures[]) => {
    const r = await write(docs);
    const at = monotonicMs();
    for (const d of docs) if (!stamps.stored.has(key(d.pair, d.window_end_ms))) stamps.stored.set(key(d.pair, d.window_end_ms), at);
    return r;
  };
  const publish = bus.publish.bind(bus);
  // Per pair, the next live window not yet closed: the first event sent at or after its end + grace closes it.
  let liveOn = false;
  const nextEnd = new Map(PAIRS.map((p) => [p, liveStart + MIN]));
  const closers = (events: readonly { pair: string; ts_ms: number }[], at: number): void => {
    for (const e of events) {
      let end = nextEnd.get(e.pair);
      while (end !== undefined && e.ts_ms >= end + grace) {
        stamps.closer.set(key(e.pair, end), at);
        end += MIN;
        nextEnd.set(e.pair, end);
      }
    }
  };
  (bus as { publish: typeof publish }).publish = (async (topic: string, messages: readonly unknown[]) => {
    const at0 = monotonicMs();
    await (publish as (t: string, m: readonly unknown[]) => Promise<void>)(topic, messages);
    if (topic === 'trades' && liveOn) closers(messages as { pair: string; ts_ms: number }[], at0);
    if (topic === 'predictions') {
      const at = monotonicMs();
      for (const p of messages as { pair: string; made_at_ms: number }[]) if (!stamps.published.has(key(p.pair, p.made_at_ms))) stamps.published.set(key(p.pair, p.made_at_ms), at);
    }
  }) as typeof publish;

  let w0: number | null = null;
  let t0 = 0;
  const replayClock = (): number => {
    const now = monotonicMs();
    w0 ??= now; // the replay's first reading: the wall time of its first trade
    return now;
  };
  let replay: ReplaySource | null = null;
  let replaying: Promise<void> = Promise.resolve();
  let ingestCtx: ServiceContext | null = null;
  /** The ingest service of a file replay (as ingest-service.ts: source -> outbox -> `trades`), its replay started by go(). */
  const ingest: Service = {
    name: 'ingest',
    async start(ctx) {
      ingestCtx = ctx;
    },
    async stop() {
      await replay?.stop();
      await replaying;
    },
  };
  const go = (): void => {
    const ctx = ingestCtx!;
    const direct = busSink(ctx, () => 'replay');
    const box = new TradeOutbox({ publish: (events) => ctx.bus.publish('trades', events), reject: (raw, reason) => direct.reject(raw, reason), logger: ctx.logger, source: 'replay' });
    t0 = live[0]!.ts_ms;
    replay = new ReplaySource(() => live, { speed: opts.speed, clock: replayClock, sourceName: 'replay', closeTicks: { intervalMs: config.candleIntervalS * 1000, graceMs: grace } });
    replaying = replay.run(box).then(() => box.idle()).then(() => box.close());
  };

  const apiPort = await freePort();
  const runConfig: Config = { ...config, apiHost: '127.0.0.1', apiPort, pairs: PAIRS };
  if (config.mode === 'production') await promoteRangeModels(runConfig);
  const runner = new Runner({ config: runConfig, logger: log, bus, openStores: async () => stores });
  const services = [ingest, ...resolveServices(['candles', 'features', 'predictor', 'api'], undefined, runConfig)];
  let client: ChildProcess | null = null;
  try {
    await runner.start(services);
    await bus.consume({
      group: 'bench-latency-candles',
      topics: ['candles'],
      fromBeginning: false,
      handler: (c: Candle) => {
        const k = key(c.pair, c.window_end_ms);
        if (!stamps.candle.has(k)) stamps.candle.set(k, monotonicMs());
      },
    });

    // History at full speed, straight onto `trades` (what a running system has behind it).
    const tw = performance.now();
    for (let i = 0; i < history.length; i += 1000) await bus.publish('trades', history.slice(i, i + 1000));
    await settle(part, bus, stamps);
    const warmS = (performance.now() - tw) / 1000;
    const historyPredictions = stamps.published.size;
    if (historyPredictions === 0) throw new Error('no prediction was published during the warm-up: the predictor has no range baseline (context) or no model');

    client = await startClient(`ws://127.0.0.1:${apiPort}/v1/ws`, (pair, made, at) => {
      const k = key(pair, made);
      if (!stamps.received.has(k)) stamps.received.set(k, at);
    });
    console.log(
      `  ${part}: warm-up ${history.length.toLocaleString('en-US')} trades (${Math.round((history.length ? live[0]!.ts_ms - history[0]!.ts_ms : 0) / MIN)} min of history) in ${warmS.toFixed(1)} s, ${historyPredictions} predictions; live: ${live.length.toLocaleString('en-US')} trades, ${opts.minutes} min at ${opts.speed}x`,
    );
    liveOn = true;
    go();
    await replaying;
    // The last live window closes with the final heartbeat: wait until its prediction has arrived (or 30 s).
    const lastEnd = liveStart + opts.minutes * MIN;
    const until = performance.now() + 30_000;
    while (performance.now() < until && !PAIRS.every((p) => stamps.received.has(key(p, lastEnd)))) await new Promise((r) => setTimeout(r, 50));
  } finally {
    client?.kill('SIGTERM');
    await runner.stop().catch((e: unknown) => console.error(`  ${part}: stop failed: ${(e as Error).message}`));
  }

  // Per live window: grace end -> each stamp, and the closing event -> each later stamp (what the system itself adds).
  const STEPS = ['closer', 'candle', 'stored', 'published', 'received'] as const;
  const fromGrace = Object.fromEntries(STEPS.map((s) => [s, [] as number[]])) as Record<(typeof STEPS)[number], number[]>;
  const fromCloser = Object.fromEntries(STEPS.map((s) => [s, [] as number[]])) as Record<(typeof STEPS)[number], number[]>;
  let windows = 0;
  let missing = 0;
  for (const pair of PAIRS) {
    for (let end = liveStart + MIN; end <= liveStart + opts.minutes * MIN; end += MIN) {
      windows++;
      const graceEnd = w0! + (end + grace - t0) / opts.speed;
      const k = key(pair, end);
      const closer = stamps.closer.get(k);
      for (const s of STEPS) {
        const at = stamps[s].get(k);
        if (at === undefined) missing++;
        else {
          fromGrace[s].push(at - graceEnd);
          if (closer !== undefined && s !== 'closer') fromCloser[s].push(at - closer);
        }
      }
    }
  }
  const goal = GOALS_MS[part]!;
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
  const row = (what: string, s: (typeof STEPS)[number], goalText = '') => {
    const g = fromGrace[s];
    const c = fromCloser[s];
    return {
      step: what,
      windows: g.length,
      'p50 ms': f(pct(g, 50)),
      'p99 ms': f(pct(g, 99)),
      'max ms': f(Math.max(...g)),
      'from closing event p50': s === 'closer' ? '' : f(pct(c, 50)),
      p99: s === 'closer' ? '' : f(pct(c, 99)),
      goal: goalText,
    };
  };
  const p99c = pct(fromGrace.received, 99);
  const rows = [
    row('closing trade/heartbeat sent to `trades`', 'closer'),
    row('candle on the bus', 'candle'),
    row('(a) feature row stored', 'stored'),
    row('(b) prediction published', 'published'),
    row('(c) prediction at the websocket client', 'received', `p99 < ${goal} ms: ${p99c < goal ? 'met' : 'not met'}`),
  ];
  if (missing > 0) console.log(`  ${part}: ${missing} stamps missing over ${windows} windows x 5 steps (a window without a trade has no candle; see the counts)`);
  return { part, rows, windows, p99c };
}

/**
 * Production mode serves no baseline: a range model per pair (the target the embedded run
 * serves its baseline for), trained walk-forward on the bundled real Coinbase candles of the
 * pair's base coin (Apache-2.0, data/sample/candles: BTC-USD for BTC/USDT, ETH-USD for
 * ETH/USDT; the range target is in log returns) and promoted in the configuration's registry.
 */
async function promoteRangeModels(config: Config): Promise<void> {
  const range = families().find((t) => t.family === 'range');
  if (!range) throw new Error('no range target family');
  const registry = registryOf(config);
  try {
    for (const pair of PAIRS) {
      const base = pair.split('/')[0]!;
      const file = testData(`candles/coinbase_${base}USD_1m_lean.csv`);
      const { segments } = readCandleCsv(file, { pair });
      const { names, rows } = technicalRowsFromCandles(segments);
      const t0 = performance.now();
      const r = trainTarget({ dataset: buildDataset({ pair, technical: rows, technicalNames: names, horizonS: 300, target: range.name }), folds: 4, source: file });
      await registry.save(r.meta, r.model.modelText());
      await registry.promote(r.meta.version, 'bench/latency.ts');
      console.log(`  ${pair}: range model ${r.meta.version} trained on ${rows.length} real ${base}-USD candle rows in ${((performance.now() - t0) / 1000).toFixed(1)} s, promoted`);
    }
  } finally {
    await registry.close();
  }
}

/** Wait until the warm-up is through: the in-process bus drained, or (Kafka) no row stored and no prediction published for 3 s. */
async function settle(part: string, bus: ReturnType<typeof createBus>, stamps: { stored: Map<string, number>; published: Map<string, number> }): Promise<void> {
  if (bus.kind === 'memory') return bus.drain();
  const until = performance.now() + 600_000;
  let last = -1;
  let quietSince = performance.now();
  for (;;) {
    const n = stamps.stored.size + stamps.published.size;
    if (n !== last) {
      last = n;
      quietSince = performance.now();
    } else if (n > 0 && performance.now() - quietSince > 3000) return;
    if (performance.now() > until) throw new Error(`${part}: the warm-up did not settle within 600 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function run(argv: string[] = []): Promise<void> {
  const opts = parseArgs(argv);
  const results: PartResult[] = [];
  const log = pino({ level: process.env.BENCH_LATENCY_LOG ?? 'error' });
  console.log(`latency: real Binance BTCUSDT + ETHUSDT trades at ${opts.speed}x, ${opts.minutes} live minute(s) per pair after ${HISTORY_MIN} min of history; times from the end of each window's grace period`);
  for (const part of opts.parts) {
    const dir = mkdtempSync(join(tmpdir(), `tickcast-bench-latency-${part}-`));
    try {
      const env: Record<string, string> = { TICKCAST_MODE: 'embedded', TICKCAST_DATA_DIR: dir, TICKCAST_PAIRS: PAIRS.join(','), TICKCAST_LOG_LEVEL: 'warn' };
      if (part === 'kafka') {
        const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
        const es = process.env.TICKCAST_TEST_ES_URL;
        if (!brokers || !es) {
          console.log('  kafka + elasticsearch: not measured (needs TICKCAST_TEST_KAFKA_BROKERS and TICKCAST_TEST_ES_URL: run it under scripts/services/with-services.sh)');
          continue;
        }
        const prefix = `bench-latency-${Date.now()}-`;
        Object.assign(env, { TICKCAST_MODE: 'production', TICKCAST_KAFKA_BROKERS: brokers, TICKCAST_ES_URL: es, TICKCAST_KAFKA_TOPIC_PREFIX: prefix, TICKCAST_ES_INDEX_PREFIX: prefix, TICKCAST_KAFKA_REPLICATION_FACTOR: '1' });
      }
      results.push(await measure(part, loadConfig({ env }), opts, log));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const r of results) {
    console.log(
      `  ${r.part === 'embedded' ? 'embedded (in-process bus + SQLite)' : 'through Kafka + Elasticsearch (the services in one process)'}: ${r.windows} live windows; ms from the end of each window's grace period (p50, p99, max), and from the trade or heartbeat that closed it being sent (the wait for it is the market's)`,
    );
    console.table(r.rows);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run(process.argv.slice(2));
