/**
 * The batch path of the services (bus batches -> one columnar aggregator call
 * per batch -> features per candle -> one store transaction per batch) against
 * the per-trade path as an independent, plain loop: CandleStage.push one trade
 * at a time, FeatureStage.onCandle one candle at a time. Real recorded Binance
 * trades, perturbed with a seed: reordered within the grace period, duplicated,
 * late (new ids and replayed ids), and some ids in a non-canonical form.
 * Then the candles service's checkpoint: killed mid-window and restarted, it
 * resumes the open windows (and a control run without the checkpoint shows
 * that the test would see the loss).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tradeBatches, type Candle, type DeadLetter, type TechnicalFeatures, type Trade } from '../../src/contracts/messages.ts';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import { openStores } from '../../src/stores/index.ts';
import type { Stores } from '../../src/stores/types.ts';
import type { Config } from '../../src/config/config.ts';
import type { Service, ServiceContext } from '../../src/services/runner.ts';
import { candlesService } from '../../src/pipeline/candles-service.ts';
import { featuresService } from '../../src/pipeline/features-service.ts';
import { CandleStage } from '../../src/pipeline/candle-stage.ts';
import { FeatureStage } from '../../src/pipeline/feature-stage.ts';
import { mergeByTime, realTrades } from '../bus/fixtures.ts';
import { mulberry32 } from '../fixtures/rng.ts';
import { silentLogger } from '../sources/helpers.ts';

const GRACE_MS = 5000;
const PAIRS = ['BTC/USDT', 'ETH/USDT'] as const;

/** Real trades with the faults a live feed has, reproducibly. */
function perturbed(seed: number): Trade[] {
  const rnd = mulberry32(seed);
  const base = mergeByTime(realTrades('BTC/USDT', 1e9), realTrades('ETH/USDT', 1e9));
  const out = base.map((t) => ({ ...t }));
  // Out of order within the grace period: swap neighbours less than 2 s apart.
  for (let i = 1; i < out.length; i++) {
    const a = out[i - 1] as Trade;
    const b = out[i] as Trade;
    if (rnd() < 0.05 && Math.abs(a.ts_ms - b.ts_ms) < 2000) [out[i - 1], out[i]] = [b, a];
  }
  // Ids in another form now and then (leading zero: not canonical, hashed by the aggregator).
  for (const t of out) if (rnd() < 0.002) t.trade_id = `0${t.trade_id}`;
  const result: Trade[] = [];
  for (let i = 0; i < out.length; i++) {
    const t = out[i] as Trade;
    result.push(t);
    // Duplicates: the same trade again a little later.
    if (rnd() < 0.01) result.splice(result.length - 1 - Math.floor(rnd() * 5), 0, { ...t });
    // Late: a trade of 80 s ago, once with a new id, once replayed with its own id.
    if (rnd() < 0.004 && i > 0) {
      const old = out.slice(0, i).reverse().find((x) => x.ts_ms < t.ts_ms - 80_000);
      if (old) result.push(rnd() < 0.5 ? { ...old, trade_id: `late-${old.trade_id}` } : { ...old });
    }
  }
  return result;
}

interface Output {
  candles: Candle[];
  rows: TechnicalFeatures[];
  late: string[];
}

/** The per-trade path, as the services did it before batching: one trade, one candle at a time. */
function perTrade(trades: readonly Trade[]): Output {
  const cs = new CandleStage({ graceMs: GRACE_MS });
  const fs = new FeatureStage(60);
  const out: Output = { candles: [], rows: [], late: [] };
  for (const t of trades) {
    const r = cs.push(t);
    // A late trade whose id its closed window already counted is a redelivery: counted as a duplicate, not reported.
    for (const l of r.late) if (!l.duplicate) out.late.push(l.trade.trade_id);
    for (const c of r.candles) {
      out.candles.push(c);
      const f = fs.onCandle(c);
      if (f.kind === 'row') out.rows.push(f.row);
    }
  }
  return out;
}

const byPairTime = <T extends { pair: string; window_end_ms: number }>(xs: T[]) =>
  [...xs].sort((a, b) => (a.pair < b.pair ? -1 : a.pair > b.pair ? 1 : a.window_end_ms - b.window_end_ms));

async function readOut(stores: Stores): Promise<Omit<Output, 'late'>> {
  const candles: Candle[] = [];
  const rows: TechnicalFeatures[] = [];
  for (const pair of PAIRS) {
    candles.push(...(await stores.features.candles.range({ pair, interval_s: 60 })));
    rows.push(...(await stores.features.technical.range({ pair, interval_s: 60 })));
  }
  return { candles, rows };
}

interface Rig {
  bus: Bus;
  stores: Stores;
  ctx: ServiceContext;
  dir: string;
  dead: DeadLetter[];
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-batch-'));
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, silentLogger);
  const bus = new Bus(new MemoryTransport({ logger: silentLogger }), { logger: silentLogger });
  await bus.start();
  const dead: DeadLetter[] = [];
  await bus.consumeDeadLetters({ group: 'test-dlq', topics: ['trades', 'candles'], fromBeginning: true, handler: (d) => void dead.push(d) });
  const ctx: ServiceContext = { config: {} as Config, logger: silentLogger, bus, stores: async () => stores, signal: new AbortController().signal };
  return {
    bus,
    stores,
    ctx,
    dir,
    dead,
    async close() {
      await bus.close();
      await stores.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Form = 'objects' | 'batches' | 'mixed';

/**
 * Publish as an ingest source would: chunks of varying size, each as one message per trade
 * (`objects`), as TradeBatch messages (`batches`: what the ingest sends, runs of a pair cut
 * at a random size), or either at random per chunk (`mixed`).
 */
async function publishChunked(bus: Bus, trades: readonly Trade[], rnd: () => number, form: Form = 'objects'): Promise<void> {
  for (let i = 0; i < trades.length; ) {
    const n = 1 + Math.floor(rnd() * 700);
    const chunk = trades.slice(i, i + n);
    const asBatches = form === 'batches' || (form === 'mixed' && rnd() < 0.5);
    await bus.publish('trades', asBatches ? tradeBatches(chunk, 1 + Math.floor(rnd() * 400)) : chunk);
    i += n;
  }
}

async function startAll(ctx: ServiceContext, services: Service[]): Promise<void> {
  for (const s of services) await s.start(ctx);
}

const lateIds = (dead: DeadLetter[]) =>
  dead
    .filter((d) => d.topic === 'trades' && d.reason.startsWith('late'))
    .map((d) => (JSON.parse(d.payload) as Trade).trade_id)
    .sort();

for (const [seed, maxBatch, form] of [
  [1, undefined, 'objects'],
  [2, 97, 'objects'],
  [3, 1, 'objects'],
  [4, undefined, 'batches'],
  [5, 3, 'batches'],
  [6, 50, 'mixed'],
] as const) {
  test(`batch path equals the per-trade path on perturbed real trades (seed ${seed}, maxBatch ${maxBatch ?? 'default'}, trades as ${form})`, async () => {
    const trades = perturbed(seed);
    const want = perTrade(trades);
    assert.ok(want.candles.length >= 20 && want.late.length > 5, `scenario has candles (${want.candles.length}) and late trades (${want.late.length})`);
    assert.ok(trades.some((t) => t.trade_id.startsWith('0')), 'scenario has non-canonical ids');
    const r = await rig();
    try {
      const services = [
        candlesService({ graceMs: GRACE_MS, ...(maxBatch ? { maxBatch } : {}) }),
        featuresService(maxBatch ? { maxBatch } : {}),
      ];
      await startAll(r.ctx, services);
      await publishChunked(r.bus, trades, mulberry32(seed * 31), form);
      await r.bus.drain();
      for (const s of services) await s.stop();
      await r.bus.drain();
      const got = await readOut(r.stores);
      assert.deepStrictEqual(got.candles, byPairTime(want.candles), 'candles');
      assert.deepStrictEqual(got.rows, byPairTime(want.rows), 'feature rows');
      assert.deepStrictEqual(lateIds(r.dead), [...want.late].sort(), 'the same late trades reported to dlq.trades');
    } finally {
      await r.close();
    }
  });
}

test('the candles service killed mid-window resumes its open windows from its checkpoint', async () => {
  const trades = perturbed(7);
  const want = perTrade(trades);
  // Cut in the middle of a minute, well inside a window.
  const cutAt = trades.findIndex((t, i) => i > trades.length / 2 && new Date(t.ts_ms).getUTCSeconds() === 30);
  const run = async (withCheckpoint: boolean) => {
    const r = await rig();
    try {
      const checkpointPath = withCheckpoint ? join(r.dir, 'candles.checkpoint') : undefined;
      const mk = () => [
        candlesService({ graceMs: GRACE_MS, maxBatch: 500, checkpointEveryMs: 0, ...(checkpointPath ? { checkpointPath } : {}) }),
        featuresService(),
      ];
      await startAll(r.ctx, mk());
      await publishChunked(r.bus, trades.slice(0, cutAt), mulberry32(3), 'mixed');
      await r.bus.drain();
      // Kill: the consumers stop where they committed; the services get no stop() (no final flush, no final checkpoint).
      await r.bus.stopConsumers();
      // The bus (standing in for Kafka) redelivers what was not committed; here: the last 300 trades again (as batches).
      await r.bus.publish('trades', tradeBatches(trades.slice(cutAt - 300, cutAt)));
      const again = mk();
      await startAll(r.ctx, again);
      await publishChunked(r.bus, trades.slice(cutAt), mulberry32(4), 'mixed');
      await r.bus.drain();
      for (const s of again) await s.stop();
      await r.bus.drain();
      return await readOut(r.stores);
    } finally {
      await r.close();
    }
  };
  const resumed = await run(true);
  assert.deepStrictEqual(resumed.candles, byPairTime(want.candles), 'candles equal an uninterrupted run');
  assert.deepStrictEqual(resumed.rows, byPairTime(want.rows), 'feature rows equal an uninterrupted run');
  // Control: without the checkpoint the restarted service has lost the open windows, and this test sees it.
  const lost = await run(false);
  assert.notDeepStrictEqual(lost.candles, byPairTime(want.candles), 'without a checkpoint the open windows are lost');
});

test('a checkpoint written with other candle settings is refused with a clear error', async () => {
  const r = await rig();
  try {
    const path = join(r.dir, 'candles.checkpoint');
    const a = candlesService({ graceMs: GRACE_MS, checkpointPath: path });
    await a.start(r.ctx);
    await r.bus.publish('trades', realTrades('BTC/USDT', 50));
    await r.bus.drain();
    await a.stop();
    const b = candlesService({ graceMs: 2000, checkpointPath: path });
    await assert.rejects(b.start(r.ctx), /written with interval 60 s and grace 5000 ms.*2000 ms; delete it/);
    writeFileSync(path, '{not json\n');
    await assert.rejects(candlesService({ checkpointPath: path }).start(r.ctx), /unreadable.*delete it/);
  } finally {
    await r.close();
  }
});
