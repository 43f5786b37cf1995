/**
 * Benchmark: replay of real trades through trades -> candles -> features ->
 * store, in one process.
 *   1. embedded: in-process bus + SQLite (goal, issue 21: >= 1.5M trades/s end to end)
 *   2. production parts: the real Kafka broker + Elasticsearch (when
 *      TICKCAST_TEST_KAFKA_BROKERS / TICKCAST_TEST_ES_URL are set, as under
 *      `make bench`): trades/s (goal >= 100k/s) and, per candle, the latency from the trade
 *      that closes its window being published to its feature row stored (goal p99 < 500 ms).
 * The trades are published 1000 per publish call, as the ingest publishes
 * them: a pair's trades that come together as one TradeBatch message
 * (contracts/messages.ts tradeBatches; the messages are built before the
 * clock starts, as the trade objects always were). The embedded part also
 * runs the same trades as one message per trade (`objects`), the stream's
 * other form, for comparison; BENCH_PIPELINE_FORMS=batches,objects picks.
 * Data: the real Binance BTCUSDT + ETHUSDT trades (MIT; data/test/trades, via testData),
 * repeated with shifted times and ids.
 * BENCH_PIPELINE_PARTS=embedded,kafka (default: both) picks the parts; `make
 * bench` runs the embedded part with no server on the machine, then starts
 * Kafka and Elasticsearch for the kafka part alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { tradeBatches, type Candle, type Trade, type TradeEvent, type TechnicalFeatures } from '../ts/src/contracts/messages.ts';
import { Bus, MemoryTransport, KafkaTransport } from '../ts/src/bus/index.ts';
import { openStores } from '../ts/src/stores/index.ts';
import type { Stores } from '../ts/src/stores/types.ts';
import type { Config } from '../ts/src/config/config.ts';
import type { ServiceContext } from '../ts/src/services/runner.ts';
import { readTradeCsv } from '../ts/src/sources/index.ts';
import { candlesService } from '../ts/src/pipeline/candles-service.ts';
import { featuresService } from '../ts/src/pipeline/features-service.ts';
import { testData } from '../ts/test/fixtures/test-data.ts';

const log = pino({ level: 'silent' });
const GRACE_MS = 5000;

async function loadTrades(repeat: number): Promise<Trade[]> {
  const base: Trade[] = [];
  for (const sym of ['BTCUSDT', 'ETHUSDT']) {
    const f = testData(`trades/binance_spot_${sym}_trades_20240808T2354-20240809T0005.csv`);
    for await (const b of readTradeCsv(f, { exchange: 'binance' })) base.push(...b.trades);
  }
  base.sort((a, b) => a.ts_ms - b.ts_ms);
  const t0 = base[0]!.ts_ms;
  const span = base.at(-1)!.ts_ms - t0 + 60_000;
  // Each repetition gets new ids that keep the exchange's form (a whole number, as
  // Binance and Kraken send): the original id plus k * 10^10. BENCH_PIPELINE_IDS=prefixed
  // gives the earlier `<k>-<id>` ids instead, which the aggregator must hash (a slower path).
  const prefixed = process.env.BENCH_PIPELINE_IDS === 'prefixed';
  const out: Trade[] = [];
  for (let k = 0; k < repeat; k++) {
    for (const t of base) {
      const trade_id = prefixed ? `${k}-${t.trade_id}` : String(Number(t.trade_id) + k * 1e10);
      out.push({ ...t, trade_id, ts_ms: t.ts_ms + k * span });
    }
  }
  return out;
}

interface RunResult {
  trades: number;
  seconds: number;
  /** From the first publish call to the last one's return. */
  publishSeconds: number;
  rows: number;
  latenciesMs: number[];
  /** The same, to the candle published on the bus. */
  candleLatenciesMs: number[];
}

type Form = 'batches' | 'objects';

/** The publish calls of a run, built before the clock starts: 1000 trades each, in the stream form given. */
function publishCalls(trades: readonly Trade[], form: Form): { events: TradeEvent[]; maxTs: number }[] {
  const BATCH = 1000;
  const out: { events: TradeEvent[]; maxTs: number }[] = [];
  for (let i = 0; i < trades.length; i += BATCH) {
    const b = trades.slice(i, i + BATCH);
    out.push({ events: form === 'batches' ? tradeBatches(b) : b, maxTs: (b.at(-1) as Trade).ts_ms });
  }
  return out;
}

/** The pair of the warm-up round (runPipeline `warmUp`), kept out of every figure. */
const WARM_PAIR = 'WARM/USDT';

/**
 * Publish `trades` and wait for the pipeline to finish them. With `warmUp` (Kafka), first a
 * warm-up round of those trades (on a pair of their own, closed by a final heartbeat) runs
 * until its last feature row is stored, so the burst meets a running system (consumer
 * groups joined, partitions restored and resumed, the feature index mapping every feature
 * that has a value), as a burst would in production, and not a start-up.
 */
async function runPipeline(bus: Bus, stores: Stores, trades: Trade[], waitDone: () => Promise<void>, opts: { form?: Form; warmUp?: Trade[] } = {}): Promise<RunResult> {
  const calls = publishCalls(trades, opts.form ?? 'batches');
  const storedAt = new Map<string, number>();
  const orig = stores.features.technical.write.bind(stores.features.technical);
  (stores.features.technical as { write: typeof orig }).write = async (docs: readonly TechnicalFeatures[]) => {
    const r = await orig(docs);
    const now = performance.now();
    for (const d of docs) storedAt.set(`${d.pair}|${d.window_end_ms}`, now);
    return r;
  };
  await bus.start();
  const ctx: ServiceContext = { config: {} as Config, logger: log, bus, stores: async () => stores, signal: new AbortController().signal };
  const services = [candlesService({ graceMs: GRACE_MS }), featuresService()];
  for (const s of services) await s.start(ctx);
  if (opts.warmUp) {
    const warm = opts.warmUp.map((t) => ({ ...t, pair: WARM_PAIR }));
    const lastTs = (warm.at(-1) as Trade).ts_ms;
    const lastKey = `${WARM_PAIR}|${Math.floor(lastTs / 60_000) * 60_000 + 60_000}`;
    await bus.publish('trades', [...tradeBatches(warm), { kind: 'heartbeat', exchange: (warm[0] as Trade).exchange, pair: WARM_PAIR, ts_ms: lastTs + 60_000, final: true }]);
    const deadline = Date.now() + 180_000;
    while (!storedAt.has(lastKey)) {
      if (Date.now() > deadline) throw new Error(`the warm-up round did not store its last feature row (${lastKey}) within 180 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    storedAt.clear();
  }
  // When each candle reached the bus (the candles service's part of the latency).
  const candleAt = new Map<string, number>();
  const busPublish = bus.publish.bind(bus);
  (bus as { publish: typeof busPublish }).publish = async (topic, msgs) => {
    await busPublish(topic, msgs);
    if (topic !== 'candles') return;
    const now = performance.now();
    for (const m of msgs as readonly Candle[]) candleAt.set(`${m.pair}|${m.window_end_ms}`, now);
  };
  const published: { at: number; maxTs: number }[] = [];
  const t0 = performance.now();
  for (const c of calls) {
    await bus.publish('trades', c.events);
    published.push({ at: performance.now(), maxTs: c.maxTs });
  }
  const publishSeconds = (performance.now() - t0) / 1000;
  await waitDone();
  const seconds = (performance.now() - t0) / 1000;
  for (const s of services) await s.stop();
  await bus.close();
  // Latency per candle: from the publication of the batch whose trades pushed the watermark past the window's end.
  const lat: number[] = [];
  const candleLat: number[] = [];
  for (const [k, at] of storedAt) {
    const end = Number(k.split('|')[1]);
    const closer = published.find((p) => p.maxTs - GRACE_MS >= end);
    if (!closer) continue;
    lat.push(at - closer.at);
    const c = candleAt.get(k);
    if (c !== undefined) candleLat.push(c - closer.at);
  }
  return { trades: trades.length, seconds, publishSeconds, rows: storedAt.size, latenciesMs: lat, candleLatenciesMs: candleLat };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

export async function run(): Promise<void> {
  const trades = await loadTrades(Number(process.env.BENCH_PIPELINE_REPEAT ?? 15));
  console.log(`pipeline: ${trades.length} real Binance trades (BTCUSDT+ETHUSDT, repeated with shifted times)`);

  const parts = (process.env.BENCH_PIPELINE_PARTS ?? 'embedded,kafka').split(',');
  if (parts.includes('embedded')) await embedded(trades);
  if (parts.includes('kafka')) await production(trades);
}

/** Part 1: in-process bus + SQLite. */
async function embedded(trades: Trade[]): Promise<void> {
  const forms = (process.env.BENCH_PIPELINE_FORMS ?? 'batches,objects').split(',') as Form[];
  const runs = Math.max(1, Number(process.env.BENCH_PIPELINE_RUNS ?? 3));
  for (const form of forms) {
    const rates: number[] = [];
    let rows = 0;
    for (let k = 0; k < runs; k++) {
      const dir = mkdtempSync(join(tmpdir(), 'tickcast-bench-'));
      try {
        const bus = new Bus(new MemoryTransport({ logger: log }), { logger: log });
        const stores = await openStores({ kind: 'sqlite', dataDir: dir }, log);
        const r = await runPipeline(bus, stores, trades, () => bus.drain(), { form });
        await stores.close();
        rates.push(r.trades / r.seconds);
        rows = r.rows;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const best = Math.max(...rates);
    const what = form === 'batches' ? 'a TradeBatch per pair and publish call, as the ingest sends' : 'one message per trade';
    console.log(
      `  embedded (in-process bus + SQLite), ${what}: ${(best / 1e6).toFixed(2)}M trades/s end to end, best of ${runs} (runs ${rates.map((x) => `${(x / 1e6).toFixed(2)}M`).join(', ')}; ${rows} feature rows)` +
        (form === 'batches' ? `; goal 1.5M/s -> ratio ${(best / 1.5e6).toFixed(2)}` : ''),
    );
  }
}

/** Part 2: the real Kafka broker + Elasticsearch, when the environment names them. */
async function production(trades: Trade[]): Promise<void> {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  const es = process.env.TICKCAST_TEST_ES_URL;
  if (!brokers || !es) {
    console.log('  kafka + elasticsearch: not measured (needs TICKCAST_TEST_KAFKA_BROKERS and TICKCAST_TEST_ES_URL: `make bench` starts both for this part, or run it under scripts/services/with-services.sh)');
    return;
  }
  const n = Math.min(trades.length, Number(process.env.BENCH_PIPELINE_KAFKA_TRADES ?? 200_000));
  const sub = trades.slice(0, n);
  // The warm-up round: every 20th trade of the first pair over its first 80 minutes (enough candles for every indicator to have a value).
  const firstPair = (trades[0] as Trade).pair;
  const warmUp = trades.filter((t, i) => t.pair === firstPair && i % 20 === 0 && t.ts_ms < (trades[0] as Trade).ts_ms + 80 * 60_000);
  const prefix = `bench-${Date.now()}-`;
  const transport = new KafkaTransport({ logger: log, brokers: brokers.split(','), clientId: 'tickcast-bench', partitions: 3, replicationFactor: 1, topicPrefix: prefix, lagIntervalMs: 60_000 });
  const bus = new Bus(transport, { logger: log });
  const stores = await openStores({ kind: 'elasticsearch', node: es, indexPrefix: prefix, refresh: false } as Parameters<typeof openStores>[0], log);
  // Done when every candle that event time closes has its feature row stored.
  const expectedRows = await (async () => {
    const d = mkdtempSync(join(tmpdir(), 'tickcast-bench-ref-'));
    const b = new Bus(new MemoryTransport({ logger: log }), { logger: log });
    const s = await openStores({ kind: 'sqlite', dataDir: d }, log);
    const rr = await runPipeline(b, s, sub, () => b.drain());
    await s.close();
    rmSync(d, { recursive: true, force: true });
    return rr.rows;
  })();
  let rowsSeen = 0;
  const origWrite = stores.features.technical.write.bind(stores.features.technical);
  (stores.features.technical as { write: typeof origWrite }).write = async (docs) => {
    const r = await origWrite(docs);
    rowsSeen += docs.filter((d) => d.pair !== WARM_PAIR).length;
    return r;
  };
  const r = await runPipeline(
    bus,
    stores,
    sub,
    async () => {
      const deadline = Date.now() + 10 * 60_000;
      while (rowsSeen < expectedRows && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    },
    { warmUp },
  );
  await stores.close();
  console.log(
    `  kafka ${brokers} + elasticsearch: ${(r.trades / r.seconds / 1000).toFixed(1)}k trades/s end to end (${r.trades} trades, ${r.seconds.toFixed(2)} s, published in ${r.publishSeconds.toFixed(2)} s, ${r.rows}/${expectedRows} feature rows); goal 100k/s -> ratio ${(r.trades / r.seconds / 100_000).toFixed(2)}; ` +
      `window close -> features stored: p50 ${pct(r.latenciesMs, 50).toFixed(1)} ms, p99 ${pct(r.latenciesMs, 99).toFixed(1)} ms over ${r.latenciesMs.length} candles (goal p99 < 500 ms); of which to the candle on the bus: p50 ${pct(r.candleLatenciesMs, 50).toFixed(1)} ms, p99 ${pct(r.candleLatenciesMs, 99).toFixed(1)} ms`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
