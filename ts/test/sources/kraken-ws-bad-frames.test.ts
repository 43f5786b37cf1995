/**
 * Bad frames over a real socket: each kind is rejected through the sink with a reason,
 * counted in tickcast_source_rejected_total{source,reason}, and the source keeps running
 * (every real trade of the tape, including the one right after each bad frame, arrives).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'prom-client';
import { KrakenWsSource, FatalSourceError } from '../../src/sources/kraken-ws.ts';
import { loadKrakenTape, isoUs } from '../fixtures/kraken-tape.ts';
import { KrakenFake, wsTrade } from '../fixtures/kraken-fake.ts';
import { WaitingSink, byPair, expectedTrade, silentLogger } from './helpers.ts';

const tape = loadKrakenTape({ btc: 200, eth: 80 });
const clockMs = Math.floor(tape.at(-1)!.us / 1000) + 60_000; // the injectable "now": a minute after the tape
const MAX_FUTURE_MS = 5 * 60_000;

/** A trade frame whose single trade is the next real trade with one field spoiled (same id: if it got through, the real one would be lost as a duplicate). */
function spoiled(at: number, patch: Record<string, unknown>): string {
  const next = tape[at]!;
  return JSON.stringify({ channel: 'trade', type: 'update', data: [{ ...wsTrade(next), ...patch }] });
}

const cases: { name: string; kind: string; frame: (at: number) => string }[] = [
  { name: 'malformed JSON', kind: 'malformed_json', frame: () => '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD",' },
  { name: 'unknown channel', kind: 'unknown_channel', frame: () => JSON.stringify({ channel: 'book', type: 'update', data: [] }) },
  { name: 'non-numeric price', kind: 'bad_price', frame: (at) => spoiled(at, { price: 'abc' }) },
  { name: 'negative price', kind: 'bad_price', frame: (at) => spoiled(at, { price: -10750.1 }) },
  { name: 'negative size', kind: 'bad_qty', frame: (at) => spoiled(at, { qty: -0.5 }) },
  { name: 'zero size', kind: 'bad_qty', frame: (at) => spoiled(at, { qty: 0 }) },
  { name: 'NaN size as text', kind: 'bad_qty', frame: (at) => spoiled(at, { qty: 'NaN' }) },
  { name: 'timestamp 10 min in the future', kind: 'future_timestamp', frame: (at) => spoiled(at, { timestamp: isoUs((clockMs + 10 * 60_000) * 1000) }) },
  { name: 'unparseable timestamp', kind: 'bad_timestamp', frame: (at) => spoiled(at, { timestamp: 'yesterday' }) },
  { name: 'unknown side', kind: 'bad_side', frame: (at) => spoiled(at, { side: 'hold' }) },
  { name: 'missing trade id', kind: 'bad_trade_id', frame: (at) => spoiled(at, { trade_id: undefined }) },
  { name: 'pair not subscribed', kind: 'unknown_pair', frame: (at) => spoiled(at, { symbol: 'DOGE/USD' }) },
  { name: 'trade frame without data', kind: 'bad_frame', frame: () => JSON.stringify({ channel: 'trade', type: 'update' }) },
];

async function rejectedCount(reason: string): Promise<number> {
  const m = register.getSingleMetric('tickcast_source_rejected_total');
  if (!m) return 0;
  return (await m.get()).values.filter((v) => v.labels.source === 'kraken-ws' && v.labels.reason === reason).reduce((s, v) => s + v.value, 0);
}

test('each kind of bad frame is rejected with a reason and counted; the next good trade still arrives', async () => {
  const rawBefore = new Map<number, string[]>();
  const placed = cases.map((c, i) => {
    const at = 20 + i * 17; // spread across the tape, each just before a real trade
    rawBefore.set(at, [c.frame(at)]);
    return { ...c, at };
  });
  const kinds = [...new Set(cases.map((c) => c.kind))];
  const before = new Map(await Promise.all(kinds.map(async (k) => [k, await rejectedCount(k)] as const)));

  const fake = await KrakenFake.start({ tape, batch: 5, tickMs: 2, heartbeatMs: 15, rawBefore });
  const src = new KrakenWsSource({ pairs: ['BTC/USD', 'ETH/USD'], url: fake.wsUrl, restBaseUrl: fake.restUrl, logger: silentLogger, deadAfterMs: 500, clock: () => clockMs, maxFutureMs: MAX_FUTURE_MS });
  const sink = new WaitingSink();
  const running = src.run(sink);
  try {
    await sink.until(() => sink.received.length >= tape.length && sink.rejected.length >= cases.length, 'all trades and all rejects');
  } finally {
    await src.stop();
    await running;
    await fake.close();
  }

  assert.equal(sink.rejected.length, cases.length, JSON.stringify(sink.rejected, null, 1));
  placed.forEach((c, i) => {
    const r = sink.rejected[i]!;
    assert.ok(r.reason.startsWith(`${c.kind}: `), `${c.name}: reason ${r.reason}`);
    assert.ok(r.raw.length > 0, `${c.name}: raw kept`);
  });
  // The source kept running: every real trade arrived, in order per pair, none replaced by a bad one.
  for (const p of ['BTC/USD', 'ETH/USD']) assert.deepEqual(byPair(sink.received, p), byPair(tape.map(expectedTrade), p), p);
  for (const k of kinds) {
    const expected = cases.filter((c) => c.kind === k).length;
    assert.equal((await rejectedCount(k)) - before.get(k)!, expected, `counter for ${k}`);
  }
  assert.equal(fake.stats.connections, 1, 'bad frames do not cause reconnects');
});

test('pairs the exchange refuses, all of them, stop the source with an error instead of reconnecting forever (one refused among others: kraken-ws-many-pairs.test.ts)', async () => {
  const fake = await KrakenFake.start({ tape: tape.slice(0, 10) });
  const src = new KrakenWsSource({ pairs: ['DOGE/USD', 'LTC/USD'], url: fake.wsUrl, restBaseUrl: fake.restUrl, logger: silentLogger, deadAfterMs: 500 });
  try {
    await assert.rejects(src.run(new WaitingSink()), (e: unknown) => e instanceof FatalSourceError && /LTC\/USD|not supported/.test((e as Error).message));
  } finally {
    await src.stop();
    await fake.close();
  }
});
