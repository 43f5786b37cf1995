/**
 * TradeBatch, the `trades` stream's columnar message (issue 21): what the
 * schema and its column rule refuse, and tradeBatches (how the ingest groups
 * what it publishes) keeping every trade and each pair's order, against a
 * plain per-pair reading of the input. Trades are real recorded Binance trades.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '../../src/contracts/codec.ts';
import {
  MAX_BATCH_TRADES,
  MAX_PAYLOAD_BYTES,
  batchOf,
  isHeartbeat,
  isTradeBatch,
  tradeBatches,
  tradesOf,
  type Trade,
  type TradeBatch,
  type TradeEvent,
} from '../../src/contracts/messages.ts';
import { mergeByTime, realTrades } from '../bus/fixtures.ts';
import { mulberry32 } from '../fixtures/rng.ts';

const btc = realTrades('BTC/USDT', 300);
const eth = realTrades('ETH/USDT', 300);

const asJson = (v: unknown) => JSON.stringify(v);

test('a valid batch passes and decodes to the same trades', () => {
  const b = batchOf(btc.slice(0, 50));
  const d = decode('trades', asJson(b));
  assert.ok(d.ok, d.ok ? '' : d.reason);
  assert.ok(isTradeBatch(d.value));
  assert.deepEqual(tradesOf(d.value), btc.slice(0, 50));
});

test('hostile batches are refused with the reason, never half taken', () => {
  const good = batchOf(btc.slice(0, 5));
  const cases: [string, unknown, RegExp][] = [
    ['a column shorter than trade_id', { ...good, price: good.price.slice(0, 4) }, /\/price: 4 values, trade_id has 5/],
    ['a column longer than trade_id', { ...good, ts_ms: [...good.ts_ms, good.ts_ms[0]] }, /\/ts_ms: 6 values, trade_id has 5/],
    ['a zero price', { ...good, price: [0, ...good.price.slice(1)] }, /schema: \/price\/0/],
    ['a negative quantity', { ...good, qty: [...good.qty.slice(0, 4), -1] }, /schema: \/qty\/4/],
    ['an unknown side', { ...good, side: ['buy', 'buy', 'hold', 'sell', 'sell'] }, /schema: \/side\/2/],
    ['a fractional time', { ...good, ts_ms: [...good.ts_ms.slice(0, 4), 1.5] }, /schema: \/ts_ms\/4/],
    ['a price as text', { ...good, price: good.price.map(String) }, /schema: \/price\/0/],
    ['an empty id', { ...good, trade_id: ['', ...good.trade_id.slice(1)] }, /schema: \/trade_id\/0/],
    ['no trades', { ...good, trade_id: [], price: [], qty: [], side: [], ts_ms: [] }, /schema: \/trade_id/],
    ['an extra field', { ...good, note: 'x' }, /schema: /],
    ['a bad pair', { ...good, pair: 'btc-usdt' }, /schema: \/pair/],
    ['a column that is not an array', { ...good, qty: 1 }, /schema: \/qty/],
  ];
  for (const [name, value, reason] of cases) {
    const d = decode('trades', asJson(value));
    assert.equal(d.ok, false, name);
    if (!d.ok) assert.match(d.reason, reason, name);
    assert.throws(() => encode('trades', value as TradeBatch), /refusing to publish invalid trades message/, `${name}: a producer cannot publish it either`);
  }
  // NaN and Infinity cannot be written as JSON; in process they are refused at publish.
  assert.throws(() => encode('trades', { ...good, price: [NaN, ...good.price.slice(1)] }), /\/price\/0/);
  assert.throws(() => encode('trades', { ...good, qty: [Infinity, ...good.qty.slice(1)] }), /\/qty\/0/);
  // The size bound: more than MAX_BATCH_TRADES trades is refused.
  const n = MAX_BATCH_TRADES + 1;
  const big = { ...good, trade_id: Array.from({ length: n }, (_, i) => String(i)), price: Array(n).fill(1), qty: Array(n).fill(1), side: Array(n).fill('buy'), ts_ms: Array(n).fill(1) };
  const d = decode('trades', asJson(big));
  assert.equal(d.ok, false);
  if (!d.ok) assert.match(d.reason, /\/trade_id: Expected array length to be less or equal to 4096/);
});

/** The events of each exchange|pair in order, batches expanded (heartbeats included): what a per-pair consumer sees. */
function perPair(events: readonly TradeEvent[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const add = (k: string, v: string) => {
    const l = m.get(k);
    if (l) l.push(v);
    else m.set(k, [v]);
  };
  for (const e of events) {
    const k = `${e.exchange}|${e.pair}`;
    if (isHeartbeat(e)) add(k, `hb ${e.ts_ms} ${e.final}`);
    else for (const t of isTradeBatch(e) ? tradesOf(e) : [e]) add(k, JSON.stringify(t));
  }
  return m;
}

test('tradeBatches keeps every trade and heartbeat in order per pair, and cuts runs at heartbeats and at the size', () => {
  const rnd = mulberry32(21);
  for (let round = 0; round < 30; round++) {
    // Two pairs on two exchanges, interleaved, with heartbeats now and then.
    const trades = mergeByTime(btc, eth).map((t) => (rnd() < 0.3 ? { ...t, exchange: 'kraken' } : t));
    const events: TradeEvent[] = [];
    for (const t of trades.slice(0, 50 + Math.floor(rnd() * 500))) {
      events.push(t);
      if (rnd() < 0.03) events.push({ kind: 'heartbeat', exchange: t.exchange, pair: t.pair, ts_ms: t.ts_ms, final: rnd() < 0.5 });
    }
    const max = 1 + Math.floor(rnd() * 60);
    const out = tradeBatches(events, max);
    assert.deepEqual(perPair(out), perPair(events), `round ${round}: the same events per pair, in order`);
    for (const e of out) {
      if (isTradeBatch(e)) {
        assert.ok(e.trade_id.length >= 2 && e.trade_id.length <= max, `a batch holds 2..${max} trades (${e.trade_id.length})`);
        const d = decode('trades', asJson(e));
        assert.ok(d.ok, d.ok ? '' : d.reason);
      }
    }
    assert.ok(out.length < events.length || max === 1, 'runs were grouped');
  }
  // A lone trade stays a Trade; a run of one pair is one batch.
  assert.deepEqual(tradeBatches([btc[0] as Trade]), [btc[0]]);
  assert.equal(tradeBatches(btc.slice(0, 300)).length, 1);
});

test('tradeBatches keeps each batch well under the payload limit, even with the longest ids', () => {
  // 256-character ids of control characters: each is six bytes in JSON (\u0001).
  const id = '\u0001'.repeat(256);
  const trades = btc.map((t) => ({ ...t, trade_id: id }));
  const out = tradeBatches(trades);
  assert.ok(out.length > 1, 'cut by size');
  for (const e of out) {
    const bytes = Buffer.byteLength(asJson(e));
    assert.ok(bytes <= MAX_PAYLOAD_BYTES / 2, `${bytes} bytes`);
  }
  assert.deepEqual(out.flatMap((e) => (isTradeBatch(e) ? tradesOf(e) : [e as Trade])), trades);
});
