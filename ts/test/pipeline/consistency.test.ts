/**
 * Train/serve consistency: the same real trades give bit-identical candles
 * and technical features whether they arrive live through a fault-injecting
 * Kraken WebSocket v2 server (connection dropped at seeded random points,
 * gaps healed from REST), from a REST backfill, or from a file replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Candle, TechnicalFeatures, Trade } from '../../src/contracts/messages.ts';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import { openStores } from '../../src/stores/index.ts';
import type { Stores } from '../../src/stores/types.ts';
import type { Config } from '../../src/config/config.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import { KrakenWsSource, KrakenRestBackfillSource, ReplaySource, type TradeSource } from '../../src/sources/index.ts';
import { candlesService } from '../../src/pipeline/candles-service.ts';
import { featuresService } from '../../src/pipeline/features-service.ts';
import { busSink } from '../../src/pipeline/ingest-service.ts';
import { runBackfill } from '../../src/pipeline/backfill.ts';
import { loadKrakenTape } from '../fixtures/kraken-tape.ts';
import { KrakenFake, type DropMode } from '../fixtures/kraken-fake.ts';
import { mulberry32 } from '../fixtures/rng.ts';
import { expectedTrade, silentLogger } from '../sources/helpers.ts';

const PAIRS = ['BTC/USD', 'ETH/USD'] as const;
const GRACE_MS = 5000;
const tape = loadKrakenTape();
const trades: Trade[] = tape.map(expectedTrade);
const lastTs = new Map(PAIRS.map((p) => [p, Math.max(...trades.filter((t) => t.pair === p).map((t) => t.ts_ms))]));
const lastId = new Map(PAIRS.map((p) => [p, trades.filter((t) => t.pair === p).at(-1)!.trade_id]));

interface Output {
  candles: Map<string, Candle[]>;
  features: Map<string, TechnicalFeatures[]>;
}

async function readBack(stores: Stores): Promise<Output> {
  const out: Output = { candles: new Map(), features: new Map() };
  for (const pair of PAIRS) {
    // Windows closed by event time on every path: those ending at or before the pair's last trade minus the grace period.
    const to_ms = (lastTs.get(pair) as number) - GRACE_MS;
    out.candles.set(pair, await stores.features.candles.range({ pair, interval_s: 60 }, { to_ms }));
    out.features.set(pair, await stores.features.technical.range({ pair, interval_s: 60 }, { to_ms }));
  }
  return out;
}

function tempStores(): Promise<{ stores: Stores; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-consistency-'));
  return openStores({ kind: 'sqlite', dataDir: dir }, silentLogger).then((stores) => ({ stores, dir }));
}

/** Trades from a source through the real services (in-process bus): ingest sink -> candles -> features -> SQLite. */
async function throughServices(makeSource: () => TradeSource, finished: (received: Trade[]) => boolean): Promise<Output> {
  const { stores, dir } = await tempStores();
  const bus = new Bus(new MemoryTransport({ logger: silentLogger }), { logger: silentLogger });
  await bus.start();
  const ctx: ServiceContext = { config: {} as Config, logger: silentLogger, bus, stores: async () => stores, signal: new AbortController().signal };
  const services = [candlesService({ graceMs: GRACE_MS }), featuresService()];
  for (const s of services) await s.start(ctx);
  const source = makeSource();
  const received: Trade[] = [];
  const sink = busSink(ctx, () => source.name);
  let done!: () => void;
  const allIn = new Promise<void>((r) => (done = r));
  const running = source.run({
    trades: async (b) => {
      received.push(...b);
      await sink.trades(b);
      if (finished(received)) done();
    },
    reject: (raw, reason) => sink.reject(raw, reason),
  });
  await Promise.race([allIn, running]);
  await source.stop();
  await running;
  await bus.drain();
  for (const s of services) await s.stop();
  await bus.close();
  const out = await readBack(stores);
  await stores.close();
  rmSync(dir, { recursive: true, force: true });
  return out;
}

const sawLastOfEveryPair = (got: Trade[]) => PAIRS.every((p) => got.some((t) => t.pair === p && t.trade_id === lastId.get(p)));

function assertSame(a: Output, b: Output, label: string): void {
  for (const pair of PAIRS) {
    assert.ok((a.candles.get(pair)?.length ?? 0) > 10, `${label}: too few candles for ${pair} to compare`);
    assert.deepStrictEqual(b.candles.get(pair), a.candles.get(pair), `${label}: candles of ${pair} differ`);
    assert.deepStrictEqual(b.features.get(pair), a.features.get(pair), `${label}: features of ${pair} differ`);
  }
}

let reference: Output;

test('replay: real trades through the services give one candle per minute and one feature row per candle', async () => {
  reference = await throughServices(
    () => new ReplaySource(() => trades, { speed: 'max' }),
    sawLastOfEveryPair,
  );
  for (const pair of PAIRS) {
    const cs = reference.candles.get(pair) as Candle[];
    const fs = reference.features.get(pair) as TechnicalFeatures[];
    assert.equal(fs.length, cs.length, `${pair}: a feature row per candle`);
    for (let i = 1; i < cs.length; i++) assert.equal(cs[i]!.window_end_ms - cs[i - 1]!.window_end_ms, 60_000, `${pair}: no holes`);
    // Independent check of the candle maths on the first and last windows: plain recomputation from the trades.
    for (const c of [cs[0]!, cs.at(-1)!]) {
      const inWin = trades.filter((t) => t.pair === pair && t.ts_ms >= c.window_start_ms && t.ts_ms < c.window_end_ms);
      if (inWin.length === 0) continue;
      assert.equal(c.open, inWin[0]!.price);
      assert.equal(c.close, inWin.at(-1)!.price);
      assert.equal(c.high, Math.max(...inWin.map((t) => t.price)));
      assert.equal(c.low, Math.min(...inWin.map((t) => t.price)));
      assert.equal(c.trade_count, inWin.length);
    }
    // Warm-up: rsi_14 is null for the first 14 rows and a number after.
    assert.equal(fs[13]!.features['rsi_14'], null);
    assert.equal(typeof fs[14]!.features['rsi_14'], 'number');
  }
});

test('live through a fault-injecting Kraken WS v2 server equals the replay, bit for bit (several seeded drop patterns)', async () => {
  const modes: DropMode[] = ['terminate', 'close', 'silent'];
  for (const seed of [11, 12, 13, 14, 15]) {
    const rnd = mulberry32(seed);
    const drops = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => ({ at: 20 + Math.floor(rnd() * (tape.length - 40)), mode: modes[Math.floor(rnd() * 3)]! }));
    drops.sort((a, b) => a.at - b.at);
    const fake = await KrakenFake.start({ tape, batch: 10, tickMs: 2, heartbeatMs: 15, pageSize: 37, restErrorRate: 0.2, seed, drops });
    try {
      const live = await throughServices(
        () =>
          new KrakenWsSource({
            pairs: [...PAIRS],
            url: fake.wsUrl,
            restBaseUrl: fake.restUrl,
            logger: silentLogger,
            deadAfterMs: 100,
            backoff: { baseMs: 5, maxMs: 40 },
            rest: { backoff: { baseMs: 2, maxMs: 10 }, maxAttempts: 30 },
            random: mulberry32(seed * 7 + 1),
          }),
        sawLastOfEveryPair,
      );
      assert.ok(fake.stats.drops >= 1, `seed ${seed}: the server really dropped the connection`);
      assertSame(reference, live, `live seed ${seed} (drops at ${drops.map((d) => `${d.at}:${d.mode}`).join(',')})`);
    } finally {
      await fake.close();
    }
  }
});

test('REST backfill (paged, with rate-limit errors) equals the replay, bit for bit', async () => {
  const fake = await KrakenFake.start({ tape, pageSize: 53, restErrorRate: 0.2, seed: 5, publishAll: true });
  const { stores, dir } = await tempStores();
  try {
    for (const pair of PAIRS) {
      await runBackfill({
        exchange: 'kraken',
        pair,
        graceMs: GRACE_MS,
        checkpointPath: join(dir, `cp-${pair.replace('/', '-')}.json`),
        stores,
        logger: silentLogger,
        source: new KrakenRestBackfillSource({
          pairs: [pair],
          sinceMs: trades[0]!.ts_ms - 1,
          baseUrl: fake.restUrl,
          logger: silentLogger,
          backoff: { baseMs: 2, maxMs: 10 },
          maxAttempts: 30,
        }),
      });
    }
    assertSame(reference, await readBack(stores), 'backfill');
  } finally {
    await stores.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
