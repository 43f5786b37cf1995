/**
 * The ingest outbox: the broker away never loses a trade. A replay waits
 * while the outbox is full; a live Kraken source (fake Kraken over real
 * sockets, real trades) disconnects when it is full and heals the gap from
 * REST once there is room, so what is published equals the tape exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'prom-client';
import type { TradeEvent, Trade, TradeHeartbeat } from '../../src/contracts/messages.ts';
import { isHeartbeat, Topics } from '../../src/contracts/messages.ts';
import { TradeOutbox } from '../../src/pipeline/trade-outbox.ts';
import { ReplaySource } from '../../src/sources/replay.ts';
import { KrakenWsSource } from '../../src/sources/kraken-ws.ts';
import { loadKrakenTape } from '../fixtures/kraken-tape.ts';
import { KrakenFake } from '../fixtures/kraken-fake.ts';
import { mulberry32 } from '../fixtures/rng.ts';
import { byPair, expectedTrade, silentLogger } from '../sources/helpers.ts';
import { realTrades } from '../bus/fixtures.ts';

/** A broker that can be away: publish throws while `away`, else appends. */
class FakeBroker {
  away = false;
  attempts = 0;
  readonly log: TradeEvent[] = [];
  publish = async (events: TradeEvent[]): Promise<void> => {
    this.attempts++;
    await new Promise((r) => setImmediate(r));
    if (this.away) throw new Error('KafkaJSNonRetriableError: broker away');
    this.log.push(...events);
  };
  trades(): Trade[] {
    return this.log.filter((e): e is Trade => !isHeartbeat(e));
  }
}

async function counter(name: string): Promise<number> {
  const m = (await register.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((a, v) => a + Number(v.value), 0);
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('broker away during a replay: the outbox holds the trades (the replay waits when it is full), retries until the broker is back, publishes all in order; not healthy meanwhile', async () => {
  const trades = realTrades('BTC/USDT', 3000);
  const broker = new FakeBroker();
  const box = new TradeOutbox({ publish: broker.publish, reject: () => assert.fail('nothing rejected'), logger: silentLogger, capacityTrades: 500, maxBatch: 100, retryBaseMs: 1, retryMaxMs: 5 });
  const outagesBefore = await counter('tickcast_ingest_outages_total');
  broker.away = true;
  const src = new ReplaySource(() => trades, { speed: 'max', maxBatch: 50 });
  const running = src.run(box);
  await until(() => box.full(), 'the outbox to fill up');
  assert.equal(box.healthy(), false, 'not healthy while publishing fails');
  assert.equal(broker.log.length, 0);
  const attempts = broker.attempts;
  await until(() => broker.attempts > attempts + 20, 'retries while the broker is away');
  assert.ok(box.size() <= 500 + 50, `bounded: ${box.size()} messages held`);
  broker.away = false;
  await running;
  await box.idle();
  assert.equal(box.healthy(), true);
  assert.deepEqual(broker.trades(), trades, 'every trade, once, in order');
  const finals = broker.log.filter(isHeartbeat);
  assert.deepEqual(finals.map((h) => [h.pair, h.ts_ms, h.final]), [['BTC/USDT', Math.max(...trades.map((t) => t.ts_ms)), true]], 'the final heartbeat after the last trade');
  assert.equal((await counter('tickcast_ingest_outages_total')) - outagesBefore, 1, 'one outage counted');
});

test('broker away under a live Kraken source: a full outbox ends the session, the source heals the gap from REST when there is room; published = the tape exactly', { timeout: 60_000 }, async () => {
  const PAIRS = ['BTC/USD', 'ETH/USD'];
  const tape = loadKrakenTape({ btc: 900, eth: 400 });
  const reference = tape.map(expectedTrade);
  const fake = await KrakenFake.start({ tape, batch: 5, tickMs: 2, heartbeatMs: 10, pageSize: 37, seed: 7 });
  const src = new KrakenWsSource({
    pairs: PAIRS,
    url: fake.wsUrl,
    restBaseUrl: fake.restUrl,
    logger: silentLogger,
    deadAfterMs: 200,
    backoff: { baseMs: 5, maxMs: 40 },
    rest: { backoff: { baseMs: 2, maxMs: 10 }, maxAttempts: 30 },
    random: mulberry32(3),
  });
  const broker = new FakeBroker();
  const box = new TradeOutbox({ publish: broker.publish, reject: () => assert.fail('nothing rejected'), logger: silentLogger, capacityTrades: 120, maxBatch: 25, retryBaseMs: 1, retryMaxMs: 5 });
  const running = src.run(box);
  try {
    await until(() => broker.trades().length > 100, 'some trades published');
    broker.away = true;
    await until(() => box.full(), 'the outbox full while the broker is away');
    const subscriptions = src.subscriptions;
    // Stay away until the tape is further along than what the outbox could hold.
    const at = fake.published;
    await until(() => fake.published > at + 300 || fake.published === tape.length, 'the market to move on');
    assert.ok(box.size() <= 120 + 10, `bounded: ${box.size()} held`);
    broker.away = false;
    const lastIds = new Map(PAIRS.map((p) => [p, String(tape.filter((t) => t.pair === p).at(-1)!.id)]));
    await until(() => [...lastIds].every(([p, id]) => broker.trades().some((t) => t.pair === p && t.trade_id === id)), 'the last trade of every pair', 40_000);
    await box.idle();
    assert.ok(src.subscriptions > subscriptions, 'the source reconnected after the outbox had room');
    const got = broker.trades();
    const keys = got.map((t) => Topics.trades.naturalKey(t));
    assert.equal(new Set(keys).size, keys.length, 'no duplicates');
    for (const p of PAIRS) assert.deepEqual(byPair(got, p), byPair(reference, p), `${p}: the tape, in order`);
    // Heartbeats (at Kraken's clock, estimated from its trades) never make a later trade of their pair late.
    assert.ok(broker.log.some(isHeartbeat), 'live heartbeats were published');
    const GRACE_MS = 5000;
    const minLater = new Map<string, number>();
    for (let i = broker.log.length - 1; i >= 0; i--) {
      const e = broker.log[i] as Trade | TradeHeartbeat; // the outbox publishes what the source gave it
      if (!isHeartbeat(e)) minLater.set(e.pair, Math.min(minLater.get(e.pair) ?? Infinity, e.ts_ms));
      else assert.ok(e.ts_ms - GRACE_MS <= (minLater.get(e.pair) ?? Infinity), `heartbeat ${e.pair} ${e.ts_ms} ahead of a later trade at ${minLater.get(e.pair)}`);
    }
  } finally {
    await src.stop();
    await running;
    box.close();
    await fake.close();
  }
});
