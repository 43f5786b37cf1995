/**
 * Kraken's live source with many pairs (issue 19.3), over real sockets against the fake
 * Kraken (WS v2 protocol: one ack per symbol, failed acks for symbols it does not list):
 * 200 pairs made of real Kraken XBT/USD trades (trade k goes to pair k mod 200, ids
 * sequential per pair), plus one pair the exchange does not list. The fake refuses a
 * connection's symbols beyond 80, so the source must spread the pairs over connections;
 * it records every subscribe request, so the batch sizes are checked as sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'prom-client';
import { KrakenWsSource, FatalSourceError } from '../../src/sources/kraken-ws.ts';
import { loadKrakenTape, type TapeTrade } from '../fixtures/kraken-tape.ts';
import { KrakenFake } from '../fixtures/kraken-fake.ts';
import { WaitingSink, byPair, expectedTrade, silentLogger } from './helpers.ts';

const NPAIRS = 200;
const PER_TRADE_PAIR = 10;
const BATCH = 25;
const PER_CONNECTION = 80;
const REFUSED = 'NOPE/USD';
const pairName = (i: number) => `K${String(i).padStart(3, '0')}/USD`;

const btc = loadKrakenTape({ btc: NPAIRS * PER_TRADE_PAIR, eth: 1 }).filter((t) => t.pair === 'BTC/USD');
const tape: TapeTrade[] = btc.map((t, k) => ({ ...t, pair: pairName(k % NPAIRS), id: 1000 + Math.floor(k / NPAIRS) }));
const PAIRS = Array.from({ length: NPAIRS }, (_, i) => pairName(i));
// The refused pair sits inside the second connection's share, in the middle of a batch.
const ASKED = [...PAIRS.slice(0, 100), REFUSED, ...PAIRS.slice(100)];

async function metric(name: string, label: string, value: string): Promise<number> {
  const m = register.getSingleMetric(name);
  const v = m ? (await m.get()).values.find((x) => x.labels[label] === value) : undefined;
  return v?.value ?? 0;
}
const rejectedMetric = (pair: string) => metric('tickcast_source_subscribe_rejected_total', 'pair', pair);

/** Sizes of consecutive slices of n items in batches of b. */
function batches(n: number, b: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i += b) out.push(Math.min(b, n - i));
  return out;
}

test(`${NPAIRS} pairs: batched subscribes over several connections, every pair's trades arrive, a refused pair is reported and the others go on`, async () => {
  assert.equal(tape.length, NPAIRS * PER_TRADE_PAIR);
  const fake = await KrakenFake.start({ tape, batch: 50, tickMs: 2, heartbeatMs: 20, startWhenSubscribed: NPAIRS, maxSymbolsPerConnection: PER_CONNECTION });
  const src = new KrakenWsSource({
    pairs: ASKED,
    url: fake.wsUrl,
    restBaseUrl: fake.restUrl,
    logger: silentLogger,
    deadAfterMs: 2000,
    subscribeBatch: BATCH,
    pairsPerConnection: PER_CONNECTION,
    subscribeIntervalMs: 5,
  });
  const before = await rejectedMetric(REFUSED);
  const sink = new WaitingSink();
  const lastId = String(1000 + PER_TRADE_PAIR - 1);
  const running = src.run(sink);
  try {
    await sink.until(() => PAIRS.every((p) => sink.received.some((t) => t.pair === p && t.trade_id === lastId)), 'the last trade of every pair', 30_000);
    await fake.finished;
  } finally {
    await src.stop();
    await running;
    await fake.close();
  }

  // Connections: ceil(201 / 80), each asked for its own share in batches of 25, every pair asked for once.
  const shares = [ASKED.slice(0, 80), ASKED.slice(80, 160), ASKED.slice(160)];
  assert.equal(src.connections, 3);
  assert.equal(fake.stats.connections, 3, 'one connection per share, no reconnects');
  for (let c = 1; c <= 3; c++) {
    const reqs = fake.subscribeRequests.filter((r) => r.connection === c);
    assert.deepEqual(reqs.map((r) => r.symbols.length), batches(shares[c - 1]!.length, BATCH), `connection ${c}: batch sizes`);
    assert.deepEqual(reqs.flatMap((r) => r.symbols).sort(), [...shares[c - 1]!].sort(), `connection ${c}: its pairs`);
  }
  assert.equal(fake.subscribeRequests.flatMap((r) => r.symbols).length, ASKED.length, 'each pair asked for once');

  // The refused pair: reported, counted, left out; the others subscribed.
  assert.deepEqual([...src.refused()], [[REFUSED, 'Currency pair not supported']]);
  assert.equal((await rejectedMetric(REFUSED)) - before, 1, 'counted once');
  assert.equal(fake.stats.subscribes, NPAIRS, 'the fake acknowledged every listed pair');
  assert.equal(src.subscriptions, 3);

  // Every pair's trades, exactly the tape's, in order.
  for (const p of PAIRS) assert.deepEqual(byPair(sink.received, p), byPair(tape.map(expectedTrade), p), p);
  assert.equal(sink.received.length, tape.length);
  assert.deepEqual(sink.rejected, []);
});

test('every pair refused, over several connections: the source fails with the exchange\'s reasons', async () => {
  const fake = await KrakenFake.start({ tape: tape.slice(0, 10) });
  const src = new KrakenWsSource({ pairs: ['LTC/USD', 'DOGE/USD', 'XRP/USD'], url: fake.wsUrl, restBaseUrl: fake.restUrl, logger: silentLogger, deadAfterMs: 500, pairsPerConnection: 2, subscribeBatch: 1 });
  try {
    await assert.rejects(src.run(new WaitingSink()), (e: unknown) => e instanceof FatalSourceError && /LTC\/USD \(Currency pair not supported\)/.test((e as Error).message));
    assert.equal(src.refused().size, 3);
  } finally {
    await src.stop();
    await fake.close();
  }
});

test('a failed subscribe ack that names no symbol (a rate limit) is not a refused pair: the source reconnects and subscribes again', async () => {
  const few = tape.filter((t) => t.pair === pairName(0) || t.pair === pairName(1));
  const fake = await KrakenFake.start({ tape: few, failSubscribes: 1 });
  const src = new KrakenWsSource({ pairs: [pairName(0), pairName(1)], url: fake.wsUrl, restBaseUrl: fake.restUrl, logger: silentLogger, deadAfterMs: 2000, backoff: { baseMs: 5, maxMs: 20 } });
  const before = await metric('tickcast_source_reconnects_total', 'cause', 'subscribe_failed');
  const sink = new WaitingSink();
  const running = src.run(sink);
  try {
    await sink.until(() => sink.received.length === few.length, 'every trade of both pairs');
  } finally {
    await src.stop();
    await running;
    await fake.close();
  }
  assert.equal(fake.stats.connections, 2, 'one reconnect');
  assert.deepEqual([...src.refused()], [], 'no pair refused');
  assert.equal((await metric('tickcast_source_reconnects_total', 'cause', 'subscribe_failed')) - before, 1);
  for (const p of [pairName(0), pairName(1)]) assert.deepEqual(byPair(sink.received, p), byPair(few.map(expectedTrade), p), p);
});
