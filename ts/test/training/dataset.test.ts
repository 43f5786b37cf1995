// The point-in-time training set on real candles (Coinbase BTC-USD 1-minute,
// QuantConnect/Lean): no feature at t uses anything after t, targets are the
// real close 5 minutes later, and incomplete rows are dropped and counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { testData } from '../fixtures/test-data.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { buildDataset, sentimentLookup, technicalRowsFromCandles } from '../../src/training/dataset.ts';
import type { Candle } from '../../src/contracts/messages.ts';
import type { SentimentFeatures } from '../../src/stores/types.ts';

const CSV = testData('candles/coinbase_BTCUSD_1m_lean.csv');
// 2017-09-03/04: contiguous bars; take the first 400.
const day = readCandleCsv(CSV, { pair: 'BTC/USD' }).segments.find((s) => s[0]!.window_start_ms === Date.parse('2017-09-03T00:00:00Z'))!;
const candles = day.slice(0, 400);

const sentimentRows: SentimentFeatures[] = [
  { coin: 'BTC', ts_ms: candles[50]!.window_end_ms - 30_000, features: { sent_1h_count: 1, sent_1h_mean: 0.5, sent_last: 0.5 } },
  { coin: 'BTC', ts_ms: candles[200]!.window_end_ms, features: { sent_1h_count: 2, sent_1h_mean: -0.25, sent_last: -1 } },
];
const SENT = ['sent_1h_count', 'sent_1h_mean', 'sent_last'];

function build(cs: readonly Candle[], sent: readonly SentimentFeatures[]) {
  const { names, rows } = technicalRowsFromCandles([cs]);
  return buildDataset({ pair: 'BTC/USD', technical: rows, technicalNames: names, sentiment: sentimentLookup(sent), sentimentNames: SENT, horizonS: 300 });
}

test('the CSV reader gives the file bars in time order (independent parse of the raw lines)', () => {
  const raw = readFileSync(CSV, 'utf8').split('\n').filter((l) => l.startsWith('20170903,'));
  const sameDay = day.filter((c) => c.window_start_ms < Date.parse('2017-09-04T00:00:00Z'));
  assert.equal(raw.length, 1440);
  assert.equal(sameDay.length, 1440, 'the day is complete: no filled bars');
  assert.ok(sameDay.every((c) => !c.filled));
  const f = raw[123]!.split(',');
  assert.equal(day[123]!.window_start_ms, Date.parse(f[2]!));
  assert.equal(day[123]!.close, Number(f[6]));
  assert.equal(day[123]!.window_end_ms - day[123]!.window_start_ms, 60_000);
});

test('targets are the real close 5 minutes later; warm-up and missing targets are dropped and counted', () => {
  const ds = build(candles, sentimentRows);
  assert.equal(ds.rows + ds.dropped.warming_up + ds.dropped.no_target, candles.length);
  assert.equal(ds.dropped.no_target, 5, 'the last 5 rows have no close 5 minutes later');
  assert.ok(ds.dropped.warming_up >= 26, `the slowest default indicator (MACD 26+9) warms up for a while: ${ds.dropped.warming_up}`);
  const byEnd = new Map(candles.map((c) => [c.window_end_ms, c.close]));
  for (let i = 0; i < ds.rows; i++) {
    const t = ds.times[i]!;
    assert.equal(ds.closes[i], byEnd.get(t));
    assert.equal(ds.futureCloses[i], byEnd.get(t + 300_000));
    assert.equal(ds.y[i], Math.log(byEnd.get(t + 300_000)! / byEnd.get(t)!));
    for (let j = 0; j < ds.technicalNames.length; j++) assert.ok(Number.isFinite(ds.x[i * ds.featureNames.length + j]!), 'technical values are never filled');
  }
  const price = buildDataset({ pair: 'BTC/USD', technical: technicalRowsFromCandles([candles]).rows, horizonS: 300, target: 'price' });
  assert.deepEqual([...price.y], price.futureCloses);
});

test('sentiment is joined as of t: the latest row at or before t, NaN (missing) before the first', () => {
  const ds = build(candles, sentimentRows);
  const k = ds.featureNames.length;
  const col = ds.featureNames.indexOf('sent_1h_mean');
  for (let i = 0; i < ds.rows; i++) {
    const t = ds.times[i]!;
    const v = ds.x[i * k + col]!;
    if (t < sentimentRows[0]!.ts_ms) assert.ok(Number.isNaN(v));
    else if (t < sentimentRows[1]!.ts_ms) assert.equal(v, 0.5);
    else assert.equal(v, -0.25, 'a row at exactly ts_ms sees it');
  }
});

test('point in time: changing any data after t leaves the row at t unchanged', () => {
  const base = build(candles, sentimentRows);
  const k = base.featureNames.length;
  for (const cut of [120, 250, 399]) {
    const tCut = candles[cut]!.window_end_ms;
    // Everything after tCut changes: prices, volumes, and new sentiment.
    const changed = candles.map((c) =>
      c.window_end_ms > tCut ? { ...c, open: c.open * 1.3, high: c.high * 1.5, low: c.low * 1.1, close: c.close * 1.2, vwap: c.vwap * 1.2, volume: c.volume * 7 + 1 } : c,
    );
    const sent = [...sentimentRows.filter((s) => s.ts_ms <= tCut), { coin: 'BTC', ts_ms: tCut + 1, features: { sent_1h_count: 9, sent_1h_mean: 1, sent_last: 1 } }];
    const other = build(changed, sent);
    let compared = 0;
    for (let i = 0; i < base.rows; i++) {
      const t = base.times[i]!;
      if (t > tCut) continue;
      const j = other.times.indexOf(t);
      assert.ok(j >= 0 || t + 300_000 > tCut, `row ${t} still present`);
      if (j < 0) continue;
      assert.deepEqual([...other.x.subarray(j * k, j * k + k)], [...base.x.subarray(i * k, i * k + k)], `features at ${t}`);
      assert.equal(other.closes[j], base.closes[i]);
      if (t + 300_000 <= tCut) assert.equal(other.y[j], base.y[i], 'a target known by tCut is unchanged too');
      compared++;
    }
    assert.ok(compared > 50, `compared ${compared} rows`);
    // And the change is visible after the cut (the test would catch a leak).
    const after = base.times.findIndex((t) => t > tCut + 60_000);
    if (after >= 0) {
      const j = other.times.indexOf(base.times[after]!);
      if (j >= 0) assert.notDeepEqual([...other.x.subarray(j * k, j * k + k)], [...base.x.subarray(after * k, after * k + k)]);
    }
  }
});

test('gaps inside a run become filled candles; long gaps split segments', () => {
  const text = [
    'date,ms_since_midnight,time_utc,open,high,low,close,volume,source_file',
    '20170903,0,2017-09-03T00:00:00Z,10,11,9,10.5,1,x',
    '20170903,180000,2017-09-03T00:03:00Z,10.5,12,10,11,2,x',
    '20170903,7200000,2017-09-03T02:00:00Z,11,11,11,11,1,x',
  ].join('\n');
  return import('../../src/training/candle-csv.ts').then(({ parseCandleCsv }) => {
    const r = parseCandleCsv(text, { pair: 'BTC/USD' });
    assert.equal(r.segments.length, 2);
    assert.equal(r.filled, 2);
    assert.deepEqual(r.segments[0]!.map((c) => [c.close, c.filled, c.volume]), [[10.5, false, 1], [10.5, true, 0], [10.5, true, 0], [11, false, 2]]);
  });
});
