/**
 * Benchmark: replay of real trades through trades -> candles -> features ->
 * store, in one process.
 *   1. embedded: in-process bus + SQLite (goal: >= 200k trades/s end to end)
 *   2. production parts: the real Kafka broker + Elasticsearch (when
 *      TICKCAST_TEST_KAFKA_BROKERS / TICKCAST_TEST_ES_URL are set, as under
 *      `make bench`): trades/s and, per candle, the latency from the trade
 *      that closes its window being published to its feature row stored.
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
import type { Trade, TechnicalFeatures } from '../ts/src/contracts/messages.ts';
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
  rows: number;
  latenciesMs: number[];
}

async function runPipeline(bus: Bus, stores: Stores, trades: Trade[], waitDone: () => Promise<void>): Promise<RunResult> {
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
  const published: { at: number; maxTs: number }[] = [];
  const t0 = performance.now();
  const BATCH = 1000;
  for (let i = 0; i < trades.length; i += BATCH) {
    const b = trades.slice(i, i + BATCH);
    await bus.publish('trades', b);
    published.push({ at: performance.now(), maxTs: b.at(-1)!.ts_ms });
  }
  await waitDone();
  const seconds = (performance.now() - t0) / 1000;
  for (const s of services) await s.stop();
  await bus.close();
  // Latency per candle: from the publication of the batch whose trades pushed the watermark past the window's end.
  const lat: number[] = [];
  for (const [k, at] of storedAt) {
    const end = Number(k.split('|')[1]);
    const closer = published.find((p) => p.maxTs - GRACE_MS >= end);
    if (closer) lat.push(at - closer.at);
  }
  return { trades: trades.length, seconds, rows: storedAt.size, latenciesMs: lat };
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
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-bench-'));
  try {
    const bus = new Bus(new MemoryTransport({ logger: log }), { logger: log });
    const stores = await openStores({ kind: 'sqlite', dataDir: dir }, log);
    const r = await runPipeline(bus, stores, trades, () => bus.drain());
    await stores.close();
    console.log(
      `  embedded (in-process bus + SQLite): ${(r.trades / r.seconds / 1000).toFixed(1)}k trades/s end to end (${r.seconds.toFixed(2)} s, ${r.rows} feature rows); goal 200k/s -> ratio ${(r.trades / r.seconds / 200_000).toFixed(2)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
    rowsSeen += docs.length;
    return r;
  };
  const r = await runPipeline(bus, stores, sub, async () => {
    const deadline = Date.now() + 10 * 60_000;
    while (rowsSeen < expectedRows && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  });
  await stores.close();
  console.log(
    `  kafka ${brokers} + elasticsearch: ${(r.trades / r.seconds / 1000).toFixed(1)}k trades/s end to end (${r.trades} trades, ${r.seconds.toFixed(1)} s, ${r.rows}/${expectedRows} feature rows); ` +
      `window close -> features stored: p50 ${pct(r.latenciesMs, 50).toFixed(1)} ms, p99 ${pct(r.latenciesMs, 99).toFixed(1)} ms over ${r.latenciesMs.length} candles`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
