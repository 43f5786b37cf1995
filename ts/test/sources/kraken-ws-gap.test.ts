/**
 * Reconnects and gap healing over real sockets: a fake Kraken (WS v2 + REST) plays real
 * trades and cuts the connection at seeded random points (terminate, close, or silence);
 * the source must emit exactly the trades of an uninterrupted run, per pair in the same
 * order, with no duplicates and none missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'prom-client';
import { KrakenWsSource } from '../../src/sources/kraken-ws.ts';
import { Topics } from '../../src/contracts/messages.ts';
import { loadKrakenTape } from '../fixtures/kraken-tape.ts';
import { KrakenFake, type DropMode } from '../fixtures/kraken-fake.ts';
import { mulberry32 } from '../fixtures/rng.ts';
import { WaitingSink, byPair, expectedTrade, silentLogger } from './helpers.ts';

const PAIRS = ['BTC/USD', 'ETH/USD'];
const tape = loadKrakenTape({ btc: 900, eth: 400 });
const reference = tape.map(expectedTrade);

async function runOnce(seed: number, drops: { at: number; mode: DropMode }[], snapshot: boolean) {
  const fake = await KrakenFake.start({ tape, batch: 10, tickMs: 2, heartbeatMs: 15, pageSize: 37, restErrorRate: 0.2, seed, drops });
  const src = new KrakenWsSource({
    pairs: PAIRS,
    url: fake.wsUrl,
    restBaseUrl: fake.restUrl,
    logger: silentLogger,
    deadAfterMs: 100,
    backoff: { baseMs: 5, maxMs: 40 },
    rest: { backoff: { baseMs: 2, maxMs: 10 }, maxAttempts: 30 },
    snapshot,
    random: mulberry32(seed * 7 + 1),
  });
  const sink = new WaitingSink();
  const lastIds = new Map(PAIRS.map((p) => [p, String(tape.filter((t) => t.pair === p).at(-1)!.id)]));
  const running = src.run(sink);
  try {
    await sink.until(() => [...lastIds].every(([p, id]) => sink.received.some((t) => t.pair === p && t.trade_id === id)), `seed ${seed}: the last trade of every pair`);
    await fake.finished;
  } finally {
    await src.stop();
    await running;
    await fake.close();
  }
  return { sink, fake, src };
}

function assertSameStream(got: ReturnType<typeof byPair>, label: string): void {
  const keys = got.map((t) => Topics.trades.naturalKey(t));
  assert.equal(new Set(keys).size, keys.length, `${label}: duplicates`);
  for (const p of PAIRS) assert.deepEqual(byPair(got, p), byPair(reference, p), `${label}: ${p} stream differs from the tape`);
  assert.equal(got.length, reference.length, `${label}: count`);
}

test('uninterrupted run emits exactly the tape, per pair in order', async () => {
  const { sink, fake } = await runOnce(1, [], false);
  assertSameStream(sink.received, 'uninterrupted');
  assert.equal(fake.stats.connections, 1);
  assert.deepEqual(sink.rejected, []);
});

test('after 1-3 drops at seeded random points in 30 runs, the stream equals the uninterrupted one', async () => {
  const uninterrupted = (await runOnce(2, [], false)).sink.received;
  const healedBefore = await counterTotal('tickcast_source_healed_trades_total');
  const deadBefore = await counterTotal('tickcast_source_reconnects_total', 'dead');
  let reconnects = 0;
  let restErrors = 0;
  const modesSeen = new Set<DropMode>();
  for (let seed = 100; seed < 130; seed++) {
    const rng = mulberry32(seed);
    const n = 1 + Math.floor(rng() * 3);
    const modes: DropMode[] = ['terminate', 'close', 'silent'];
    const ats = [...new Set(Array.from({ length: n }, () => 1 + Math.floor(rng() * (tape.length - 1))))].sort((a, b) => a - b);
    const drops = ats.map((at) => ({ at, mode: modes[Math.floor(rng() * 3)]! }));
    drops.forEach((d) => modesSeen.add(d.mode));
    const { sink, fake, src } = await runOnce(seed, drops, seed % 2 === 0);
    const label = `seed ${seed} drops ${JSON.stringify(drops)}`;
    assertSameStream(sink.received, label);
    for (const p of PAIRS) assert.deepEqual(byPair(sink.received, p), byPair(uninterrupted, p), `${label}: ${p} differs from the uninterrupted run`);
    assert.deepEqual(sink.rejected, [], label);
    assert.ok(src.subscriptions >= 2, `${label}: expected a re-subscribe, got ${src.subscriptions} subscriptions`);
    reconnects += fake.stats.connections - 1;
    restErrors += fake.stats.restErrors;
  }
  assert.ok(reconnects >= 30, `reconnects ${reconnects}`);
  assert.deepEqual([...modesSeen].sort(), ['close', 'silent', 'terminate'], 'every drop mode exercised');
  assert.ok(restErrors > 0, 'REST rate-limit/5xx errors were exercised and retried');
  assert.ok((await counterTotal('tickcast_source_healed_trades_total')) > healedBefore, 'some trades were healed from REST');
  assert.ok((await counterTotal('tickcast_source_reconnects_total', 'dead')) > deadBefore, 'silent connections were detected as dead by the watchdog');
});

async function counterTotal(name: string, cause?: string): Promise<number> {
  const m = register.getSingleMetric(name);
  if (!m) return 0;
  return (await m.get()).values.filter((v) => cause === undefined || v.labels.cause === cause).reduce((s, v) => s + v.value, 0);
}

