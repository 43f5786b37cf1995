/** The live cache (plain arrays in, compared with a naive recomputation) and the query parsing helpers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveCache } from '../../src/api/live-cache.ts';
import { MAX_CURSOR_SKIP, cursorCodec, parseTime } from '../../src/api/query-params.ts';
import { ApiError } from '../../src/api/api-error.ts';
import { PAIRS, predictionsFrom, realCandles } from './helpers.ts';
import { mulberry32 } from '../fixtures/rng.ts';

test('recent rows: bounded, time-ordered, one per natural key, whatever the arrival order', () => {
  const cache = new LiveCache({ pairs: PAIRS, recent: 50 });
  const candles = realCandles('ETH/USD', 120);
  const rnd = mulberry32(7);
  const shuffled = [...candles].sort(() => rnd() - 0.5);
  for (const c of [...shuffled, ...shuffled.slice(0, 30)]) cache.addCandle(c); // with redeliveries
  const got = cache.snapshot('ETH/USD')!.candles;
  assert.ok(got.length <= 50);
  // Every kept candle is one of the newest 50, in order; the ring never holds duplicates.
  const newest = [...candles].sort((a, b) => a.window_end_ms - b.window_end_ms).slice(-50);
  const times = got.map((c) => c.window_end_ms);
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  assert.equal(new Set(times).size, times.length);
  for (const c of got) assert.ok(newest.some((n) => n.window_end_ms === c.window_end_ms));
  // In order, the ring holds exactly the newest 50.
  const ordered = new LiveCache({ pairs: PAIRS, recent: 50 });
  for (const c of candles) ordered.addCandle(c);
  assert.deepEqual(ordered.snapshot('ETH/USD')!.candles, newest);
  assert.deepEqual(ordered.latestCandle('ETH/USD'), newest[newest.length - 1]);
});

test('latest prediction = newest made_at; other pairs are ignored and counted', () => {
  const cache = new LiveCache({ pairs: ['BTC/USD'] });
  const preds = predictionsFrom(realCandles('BTC/USD', 20));
  const newest = preds[preds.length - 1]!;
  cache.addPrediction(newest);
  for (const p of preds.slice(0, -1)) cache.addPrediction(p);
  assert.deepEqual(cache.latest('BTC/USD'), newest);
  assert.equal(cache.addPrediction({ ...newest, pair: 'ETH/USD' }), false);
  assert.equal(cache.ignored, 1);
  assert.equal(cache.latest('ETH/USD'), null);
  assert.equal(cache.snapshot('ETH/USD'), null);
});

test('parseTime agrees with Date.UTC on valid instants and rejects impossible ones', () => {
  assert.equal(parseTime('from', '1723161600000'), 1723161600000);
  assert.equal(parseTime('from', '2024-08-09'), Date.UTC(2024, 7, 9));
  assert.equal(parseTime('from', '2024-08-09T00:05:30Z'), Date.UTC(2024, 7, 9, 0, 5, 30));
  assert.equal(parseTime('from', '2024-08-09T00:05:30.250Z'), Date.UTC(2024, 7, 9, 0, 5, 30, 250));
  assert.equal(parseTime('from', '2024-08-09T02:05:30+02:00'), Date.UTC(2024, 7, 9, 0, 5, 30));
  assert.equal(parseTime('from', '2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29));
  for (const bad of ['2023-02-29', '2024-02-30T00:00:00Z', '2024-00-10', '2024-01-01T24:00:00Z', '2024-01-01T10:60Z', 'now', '99999999999999999']) {
    assert.throws(() => parseTime('from', bad), (e: unknown) => e instanceof ApiError && e.code === 'INVALID_TIME', bad);
  }
});

test('cursors round-trip, are bound to their query and to the signing secret, and bound the skip', () => {
  const c = { t_ms: 1723161600000, skip: 3, q: 'abc' };
  const codec = cursorCodec('a-secret-of-thirty-two-characters!!');
  assert.deepEqual(codec.decode(codec.encode(c), 'abc'), c);
  assert.throws(() => codec.decode(codec.encode(c), 'other'), (e: unknown) => e instanceof ApiError && e.code === 'INVALID_CURSOR');
  assert.throws(() => codec.decode(codec.encode({ ...c, skip: 0 }), 'abc'), /malformed/);
  assert.throws(() => codec.decode(codec.encode({ ...c, skip: MAX_CURSOR_SKIP + 1 }), 'abc'), /malformed/);
  assert.deepEqual(cursorCodec('a-secret-of-thirty-two-characters!!').decode(codec.encode(c), 'abc'), c, 'same secret: accepted');
  assert.throws(() => cursorCodec('another-secret-of-thirty-two-chars!').decode(codec.encode(c), 'abc'), /not issued by this API/);
  assert.throws(() => cursorCodec().decode(cursorCodec().encode(c), 'abc'), /not issued by this API/, 'random secrets differ per codec');
});
