// The FeatureSet binding: batch == streaming bit for bit, reset-then-replay ==
// fresh, JS errors with codes, and the indicators TA-Lib lacks (rolling VWAP,
// log return, realized volatility, Bollinger width and %B) against naive
// recomputations on real Kraken candles (which carry a per-candle VWAP).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FeatureSet } from '@tickcast/indicators';
import { candleFile } from './oracle.ts';

interface Cols { open: Float64Array; high: Float64Array; low: Float64Array; close: Float64Array; volume: Float64Array; vwap: Float64Array }

function loadKraken(): Cols {
  const lines = readFileSync(candleFile('kraken_XBTUSDT_1m_20251110.csv'), 'utf8').trim().split('\n');
  const header = lines[0]!.split(',');
  const rows = lines.slice(1).map((l) => l.split(','));
  const col = (k: string) => Float64Array.from(rows, (r) => Number(r[header.indexOf(k)]));
  return { open: col('open'), high: col('high'), low: col('low'), close: col('close'), volume: col('volume'), vwap: col('vwap') };
}

const FEATURES = ['rsi_14', 'macd_12_26_9_hist', 'bb_20_2_width', 'bb_20_2_pctb', 'bb_20_2_upper', 'bb_20_2_lower', 'bb_20_2_middle', 'sma_20', 'atr_14', 'stoch_14_3_3_k', 'adx_14', 'plus_di_14', 'obv', 'vwap_20', 'log_return_1', 'log_return_5', 'realized_vol_30', 'mfi_14', 'cci_20', 'willr_14'];

const candleAt = (c: Cols, i: number) => ({ open: c.open[i]!, high: c.high[i]!, low: c.low[i]!, close: c.close[i]!, volume: c.volume[i]!, vwap: c.vwap[i]! });
const sameBits = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

test('batch equals streaming bit for bit; reset then replay equals fresh', () => {
  const c = loadKraken();
  const n = c.close.length;
  const batch = new FeatureSet({ features: FEATURES }).batch(c);
  const set = new FeatureSet({ features: FEATURES });
  const streamed: number[] = [];
  for (let i = 0; i < n; i++) streamed.push(...set.update(candleAt(c, i)));
  assert.equal(batch.length, streamed.length);
  streamed.forEach((v, i) => assert.ok(sameBits(v, batch[i]!), `cell ${i}: stream ${v} vs batch ${batch[i]}`));

  // Reset, then replay a different slice through updateInto: equals a fresh set.
  set.reset();
  const fresh = new FeatureSet({ features: FEATURES });
  const row = new Float64Array(FEATURES.length);
  for (let i = n - 300; i < n; i++) {
    set.updateInto(row, c.open[i]!, c.high[i]!, c.low[i]!, c.close[i]!, c.volume[i]!, c.vwap[i]!);
    const expected = fresh.update(candleAt(c, i));
    row.forEach((v, j) => assert.ok(sameBits(v, expected[j]!), `row ${i} ${FEATURES[j]}`));
  }
});

test('indicators without a TA-Lib equivalent match naive recomputations', () => {
  const c = loadKraken();
  const n = c.close.length;
  const m = new FeatureSet({ features: FEATURES }).batch(c);
  const w = FEATURES.length;
  const at = (i: number, name: string) => m[i * w + FEATURES.indexOf(name)]!;
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(b), 1e-12), `${what}: ${a} vs naive ${b}`);
  for (let i = 0; i < n; i++) {
    // Rolling VWAP over 20 candles: the candle's own vwap when > 0, else (h+l+c)/3.
    if (i >= 19) {
      let pv = 0;
      let v = 0;
      for (let j = i - 19; j <= i; j++) {
        const price = c.vwap[j]! > 0 ? c.vwap[j]! : (c.high[j]! + c.low[j]! + c.close[j]!) / 3;
        pv += price * c.volume[j]!;
        v += c.volume[j]!;
      }
      const last = c.vwap[i]! > 0 ? c.vwap[i]! : (c.high[i]! + c.low[i]! + c.close[i]!) / 3;
      near(at(i, 'vwap_20'), v === 0 ? last : pv / v, `vwap_20[${i}]`);
      const upper = at(i, 'bb_20_2_upper');
      const lower = at(i, 'bb_20_2_lower');
      const middle = at(i, 'bb_20_2_middle');
      if (upper > lower) {
        near(at(i, 'bb_20_2_width'), (upper - lower) / middle, `bb width[${i}]`);
        near(at(i, 'bb_20_2_pctb'), (c.close[i]! - lower) / (upper - lower), `bb %B[${i}]`);
      } else {
        assert.equal(at(i, 'bb_20_2_width'), 0);
        assert.equal(at(i, 'bb_20_2_pctb'), 0.5);
      }
    } else {
      assert.ok(Number.isNaN(at(i, 'vwap_20')));
    }
    if (i >= 1) near(at(i, 'log_return_1'), Math.log(c.close[i]! / c.close[i - 1]!), `log_return_1[${i}]`);
    if (i >= 5) near(at(i, 'log_return_5'), Math.log(c.close[i]! / c.close[i - 5]!), `log_return_5[${i}]`);
    if (i >= 30) {
      let s = 0;
      for (let j = i - 29; j <= i; j++) s += Math.log(c.close[j]! / c.close[j - 1]!) ** 2;
      const got = at(i, 'realized_vol_30');
      if (s === 0) assert.equal(got, 0);
      else near(got, Math.sqrt(s), `realized_vol_30[${i}]`);
    } else {
      assert.ok(Number.isNaN(at(i, 'realized_vol_30')));
    }
  }
});

test('bad input becomes a JS error with a code, never a crash', () => {
  const codeOf = (fn: () => unknown) => {
    try { fn(); } catch (e) { return { code: (e as { code?: string }).code, message: (e as Error).message }; }
    return undefined;
  };
  const bad = codeOf(() => new FeatureSet({ features: ['rsi_0'] }));
  assert.equal(bad?.code, 'E_INVALID_FEATURE');
  assert.match(bad?.message ?? '', /rsi_0.*minimum/);
  assert.equal(codeOf(() => new FeatureSet({ features: ['nope_3'] }))?.code, 'E_INVALID_FEATURE');
  assert.equal(codeOf(() => new FeatureSet({ features: [] }))?.code, 'E_INVALID_FEATURE');
  const set = new FeatureSet({ features: ['sma_2'] });
  assert.equal(codeOf(() => set.update({ open: 1, high: 1, low: 1, close: Number.NaN, volume: 1 }))?.code, 'E_NON_FINITE_INPUT');
  const one = Float64Array.of(1);
  assert.equal(codeOf(() => set.batch({ open: one, high: one, low: one, close: Float64Array.of(1, 2), volume: one }))?.code, 'E_LENGTH_MISMATCH');
  assert.equal(codeOf(() => set.updateInto(new Float64Array(0), 1, 1, 1, 1, 1))?.code, 'E_LENGTH_MISMATCH');
  // The rejected candle left no trace: the first valid ones still warm up from scratch.
  assert.ok(Number.isNaN(set.update({ open: 1, high: 1, low: 1, close: 1, volume: 1 })[0]!));
  assert.equal(set.update({ open: 3, high: 3, low: 3, close: 3, volume: 1 })[0], 2);
});

test('batchInto writes the batch matrix into the caller\'s array; only the columns the set reads are needed', () => {
  const c = loadKraken();
  const set = new FeatureSet({ features: ['sma_5', 'obv', 'rsi_3'] });
  assert.deepEqual(set.columnsRead, ['close', 'volume']);
  assert.deepEqual(new FeatureSet({ features: ['atr_3'] }).columnsRead, ['high', 'low', 'close']);
  const full = set.batch(c);
  const out = new Float64Array(full.length).fill(7);
  set.batchInto({ close: c.close, volume: c.volume }, out);
  full.forEach((v, i) => assert.ok(Object.is(v, out[i]) || (Number.isNaN(v) && Number.isNaN(out[i]!)), `cell ${i}: ${v} vs ${out[i]}`));
  const partial = set.batch({ close: c.close, volume: c.volume });
  assert.deepEqual(Array.from(partial).map(String), Array.from(full).map(String));
  const codeOf = (fn: () => unknown) => {
    try { fn(); } catch (e) { return { code: (e as { code?: string }).code, message: (e as Error).message }; }
    return undefined;
  };
  const missing = codeOf(() => set.batch({ close: c.close }));
  assert.equal(missing?.code, 'E_MISSING_COLUMN');
  assert.match(missing?.message ?? '', /volume/);
  assert.equal(codeOf(() => set.batchInto({ close: c.close, volume: c.volume }, new Float64Array(full.length - 1)))?.code, 'E_LENGTH_MISMATCH');
  // A column given is checked even when the set does not read it.
  const badOpen = Float64Array.from(c.open);
  badOpen[Math.floor(badOpen.length / 2)] = Number.POSITIVE_INFINITY;
  const err = codeOf(() => set.batchInto({ open: badOpen, close: c.close, volume: c.volume }, out));
  assert.equal(err?.code, 'E_NON_FINITE_INPUT');
  assert.match(err?.message ?? '', /open/);
});

