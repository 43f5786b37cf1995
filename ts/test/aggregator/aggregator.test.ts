/**
 * @tickcast/aggregator against a plainly written TypeScript reference, on REAL
 * trades from data/sample and data/test (Kraken XBT/USD 2019-07-01 00:00-01:00,
 * Binance BTCUSDT + ETHUSDT 2024-08-08 23:54 - 00:05). See that folder's
 * README.md for the columns. The reference below groups trades by window with
 * Maps and arrays; it shares no code with the Rust core.
 */
import { testData } from '../fixtures/test-data.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Aggregator, type BatchResult } from '@tickcast/aggregator';
import { Candle, type Trade } from '../../src/contracts/messages.ts';
import { validate } from '../../src/contracts/codec.ts';
import { mulberry32 as rng } from '../fixtures/rng.ts';

const KRAKEN = testData('trades/kraken_XBTUSD_trades_20190701T0000-0100.csv');
const BINANCE_BTC = testData('trades/binance_spot_BTCUSDT_trades_20240808T2354-20240809T0005.csv');
const BINANCE_ETH = testData('trades/binance_spot_ETHUSDT_trades_20240808T2354-20240809T0005.csv');

function csv(path: string): Record<string, string>[] {
  assert.ok(existsSync(path), `real trade file missing: ${path}`);
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const cols = (head ?? '').split(',');
  return lines.map((l) => {
    const v = l.split(',');
    return Object.fromEntries(cols.map((c, i) => [c, v[i] ?? '']));
  });
}

/** Kraken XBT/USD: no trade id in the file, so the row number is the id (file order = time order). */
function krakenTrades(): Trade[] {
  return csv(KRAKEN).map((r, i) => ({
    exchange: 'kraken',
    pair: 'BTC/USD',
    trade_id: String(i),
    price: Number(r.price),
    qty: Number(r.amount),
    side: r.side === 'buy' ? 'buy' : 'sell',
    ts_ms: Number(r.time),
  }));
}

/** Binance BTCUSDT and ETHUSDT merged by trade time (two pairs interleaved, as on one stream). */
function binanceTrades(): Trade[] {
  const load = (path: string, pair: string): Trade[] =>
    csv(path).map((r) => ({
      exchange: 'binance',
      pair,
      trade_id: r.trade_id ?? '',
      price: Number(r.price),
      qty: Number(r.qty),
      side: r.is_buyer_maker === 'true' ? 'sell' : 'buy', // buyer is maker = taker sold
      ts_ms: Number(r.trade_time_ms),
    }));
  const all = [...load(BINANCE_BTC, 'BTC/USDT'), ...load(BINANCE_ETH, 'ETH/USDT')];
  return all
    .map((t, i) => ({ t, i }))
    .sort((a, b) => a.t.ts_ms - b.t.ts_ms || a.i - b.i)
    .map((x) => x.t);
}

// ---------------------------------------------------------------- reference

interface RefResult {
  candles: Candle[];
  late: number[];
  lateDuplicate: number[];
  duplicates: number[];
}

/**
 * Naive reference. Arrival order decides lateness: a trade is late when its
 * window end <= (latest earlier event time of its pair - grace); a trade whose
 * id was seen before (per pair) is a duplicate. Every other trade is grouped
 * into its window; windows between a pair's first window and the final
 * watermark with no trade are flat at the previous close.
 */
function reference(trades: Trade[], exchange: string, intervalS: number, graceMs: number, finalWatermarkMs: number): RefResult {
  const I = intervalS * 1000;
  const maxTs = new Map<string, number>();
  const seen = new Map<string, Set<string>>();
  const groups = new Map<string, Map<number, Trade[]>>();
  const out: RefResult = { candles: [], late: [], lateDuplicate: [], duplicates: [] };
  trades.forEach((t, i) => {
    const start = Math.floor(t.ts_ms / I) * I;
    const ids = seen.get(t.pair) ?? new Set<string>();
    seen.set(t.pair, ids);
    const m = maxTs.get(t.pair);
    if (m !== undefined && start + I <= m - graceMs) {
      (ids.has(t.trade_id) ? out.lateDuplicate : out.late).push(i);
      return;
    }
    if (ids.has(t.trade_id)) {
      out.duplicates.push(i);
      return;
    }
    ids.add(t.trade_id);
    maxTs.set(t.pair, Math.max(m ?? -Infinity, t.ts_ms));
    const byWindow = groups.get(t.pair) ?? new Map<number, Trade[]>();
    groups.set(t.pair, byWindow);
    const list = byWindow.get(start) ?? [];
    list.push(t);
    byWindow.set(start, list);
  });
  const idNum = (t: Trade) => Number(t.trade_id);
  const before = (a: Trade, b: Trade) => a.ts_ms < b.ts_ms || (a.ts_ms === b.ts_ms && idNum(a) < idNum(b));
  for (const [pair, byWindow] of groups) {
    const starts = [...byWindow.keys()].sort((a, b) => a - b);
    let prevClose = NaN;
    for (let s = starts[0] ?? 0; s + I <= finalWatermarkMs; s += I) {
      const list = byWindow.get(s);
      const base = { exchange, pair, interval_s: intervalS, window_start_ms: s, window_end_ms: s + I };
      if (!list) {
        out.candles.push({ ...base, open: prevClose, high: prevClose, low: prevClose, close: prevClose, volume: 0, buy_volume: 0, sell_volume: 0, vwap: prevClose, trade_count: 0, filled: true });
        continue;
      }
      let first = list[0] as Trade;
      let last = first;
      let high = -Infinity;
      let low = Infinity;
      let volume = 0;
      let buy = 0;
      let sell = 0;
      let notional = 0;
      for (const t of list) {
        if (before(t, first)) first = t;
        if (before(last, t)) last = t;
        high = Math.max(high, t.price);
        low = Math.min(low, t.price);
        volume += t.qty;
        notional += t.price * t.qty;
        if (t.side === 'buy') buy += t.qty;
        if (t.side === 'sell') sell += t.qty;
      }
      out.candles.push({ ...base, open: first.price, high, low, close: last.price, volume, buy_volume: buy, sell_volume: sell, vwap: notional / volume, trade_count: list.length, filled: false });
      prevClose = last.price;
    }
  }
  return out;
}

// ---------------------------------------------------------------- helpers

const SIDE_CODE = { unknown: 0, buy: 1, sell: 2 } as const;

function columns(trades: Trade[], ids: 'f64' | 'bigint' | 'string') {
  const pairs = [...new Set(trades.map((t) => t.pair))];
  return {
    pairs,
    pairIdx: Uint32Array.from(trades, (t) => pairs.indexOf(t.pair)),
    tradeIds:
      ids === 'f64'
        ? Float64Array.from(trades, (t) => Number(t.trade_id))
        : ids === 'bigint'
          ? BigInt64Array.from(trades, (t) => BigInt(t.trade_id))
          : trades.map((t) => t.trade_id),
    prices: Float64Array.from(trades, (t) => t.price),
    qtys: Float64Array.from(trades, (t) => t.qty),
    sides: Uint8Array.from(trades, (t) => SIDE_CODE[t.side]),
    tsMs: Float64Array.from(trades, (t) => t.ts_ms),
  };
}

function rowsOf(r: BatchResult['candles']): Candle[] {
  const out: Candle[] = [];
  for (let i = 0; i < r.pairIdx.length; i++) {
    out.push({
      exchange: r.exchange,
      pair: r.pairs[r.pairIdx[i] as number] as string,
      interval_s: r.intervalS,
      window_start_ms: r.windowStartMs[i] as number,
      window_end_ms: r.windowEndMs[i] as number,
      open: r.open[i] as number,
      high: r.high[i] as number,
      low: r.low[i] as number,
      close: r.close[i] as number,
      volume: r.volume[i] as number,
      buy_volume: r.buyVolume[i] as number,
      sell_volume: r.sellVolume[i] as number,
      vwap: r.vwap[i] as number,
      trade_count: r.tradeCount[i] as number,
      filled: r.filled[i] === 1,
    });
  }
  return out;
}

interface Run {
  candles: Candle[];
  late: number[];
  lateDuplicate: number[];
  duplicates: number[];
}

function runPerTrade(agg: Aggregator, trades: Trade[], finalWm: number): Run {
  const run: Run = { candles: [], late: [], lateDuplicate: [], duplicates: [] };
  trades.forEach((t, i) => {
    const r = agg.push(t);
    run.candles.push(...r.candles);
    if (r.outcome === 'late') run.late.push(i);
    if (r.outcome === 'late_duplicate') run.lateDuplicate.push(i);
    if (r.outcome === 'duplicate') run.duplicates.push(i);
  });
  run.candles.push(...agg.advanceWatermark(finalWm));
  return run;
}

function runBatches(agg: Aggregator, trades: Trade[], cuts: number[], finalWm: number, ids: 'f64' | 'bigint' | 'string' = 'f64'): Run {
  const run: Run = { candles: [], late: [], lateDuplicate: [], duplicates: [] };
  let from = 0;
  for (const to of [...cuts, trades.length]) {
    const r = agg.pushBatch(columns(trades.slice(from, to), ids));
    run.candles.push(...rowsOf(r.candles));
    r.lateRows.forEach((row, k) => (r.lateDuplicate[k] === 1 ? run.lateDuplicate : run.late).push(from + row));
    r.duplicateRows.forEach((row) => run.duplicates.push(from + row));
    assert.equal(r.rejectedRows.length, 0);
    from = to;
  }
  run.candles.push(...agg.advanceWatermark(finalWm));
  return run;
}

/** Candles grouped per pair in emission order; asserts each pair's windows ascend without holes. */
function perPair(candles: Candle[]): Map<string, Candle[]> {
  const m = new Map<string, Candle[]>();
  for (const c of candles) {
    const list = m.get(c.pair) ?? [];
    const prev = list.at(-1);
    if (prev) assert.equal(c.window_start_ms, prev.window_end_ms, `${c.pair}: windows emitted in order, no hole`);
    list.push(c);
    m.set(c.pair, list);
  }
  return m;
}

function assertSameCandles(actual: Candle[], expected: Candle[], what: string): void {
  const a = perPair(actual);
  const e = perPair(expected);
  assert.deepEqual([...a.keys()].sort(), [...e.keys()].sort(), `${what}: pairs`);
  for (const [pair, list] of e) {
    const got = a.get(pair) ?? [];
    assert.equal(got.length, list.length, `${what}: ${pair} candle count`);
    // deepEqual compares numbers with Object.is: bit for bit.
    list.forEach((c, i) => assert.deepEqual(got[i], c, `${what}: ${pair} candle ${i}`));
  }
}

/** Each trade arrives no later than `graceMs` of event time after its neighbours: none is late. */
function shuffleWithinGrace(trades: Trade[], graceMs: number, seed: number): Trade[] {
  const r = rng(seed);
  return trades
    .map((t, i) => ({ t, i, k: t.ts_ms + r() * graceMs * 0.999 }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map((x) => x.t);
}

const lastEnd = (trades: Trade[], I: number) => (Math.floor(Math.max(...trades.map((t) => t.ts_ms)) / I) + 1) * I;

// ---------------------------------------------------------------- tests

const DATASETS = [
  { name: 'kraken XBT/USD 1h', exchange: 'kraken', load: krakenTrades },
  { name: 'binance BTCUSDT+ETHUSDT 11 min', exchange: 'binance', load: binanceTrades },
] as const;

for (const ds of DATASETS) {
  for (const intervalS of [60, 5]) {
    test(`${ds.name}, ${intervalS}s windows, in order: per trade and batch equal the reference bit for bit`, () => {
      const trades = ds.load();
      const graceMs = 2_000;
      const finalWm = lastEnd(trades, intervalS * 1000) + 2 * intervalS * 1000; // two quiet windows after the tape
      const ref = reference(trades, ds.exchange, intervalS, graceMs, finalWm);
      assert.equal(ref.late.length, 0);
      const single = runPerTrade(new Aggregator({ exchange: ds.exchange, intervalS, graceMs }), trades, finalWm);
      assertSameCandles(single.candles, ref.candles, 'per trade');
      for (const c of single.candles) assert.equal(validate(Candle, c).ok, true, `contract: ${JSON.stringify(c)}`);
      const batch = runBatches(new Aggregator({ exchange: ds.exchange, intervalS, graceMs }), trades, [], finalWm);
      assert.deepEqual(batch.candles, single.candles, 'one batch == per trade, same order');
      // sanity of the reference itself against the raw file
      const total = trades.reduce((s, t) => s + t.qty, 0);
      const refTotal = ref.candles.reduce((s, c) => s + c.volume, 0);
      assert.ok(Math.abs(refTotal - total) < 1e-6 * total);
      assert.equal(ref.candles.reduce((s, c) => s + c.trade_count, 0), trades.length);
      if (intervalS === 5) assert.ok(ref.candles.some((c) => c.filled), 'quiet 5 s windows exist in real tape');
    });
  }

  test(`${ds.name}: shuffled within grace, random batch splits: nothing late, equals the reference`, () => {
    const sorted = ds.load();
    const graceMs = 3_000;
    const finalWm = lastEnd(sorted, 60_000);
    const inOrder = reference(sorted, ds.exchange, 60, graceMs, finalWm);
    for (const seed of [1, 2, 3]) {
      const trades = shuffleWithinGrace(sorted, graceMs, seed);
      assert.notDeepEqual(trades, sorted);
      const ref = reference(trades, ds.exchange, 60, graceMs, finalWm);
      assert.equal(ref.late.length, 0);
      const r = rng(seed * 7);
      const cuts = Array.from({ length: 1 + Math.floor(r() * 20) }, () => Math.floor(r() * trades.length)).sort((a, b) => a - b);
      const batch = runBatches(new Aggregator({ exchange: ds.exchange, graceMs }), trades, cuts, finalWm, seed === 2 ? 'string' : 'bigint');
      assert.deepEqual(batch.late, []);
      assertSameCandles(batch.candles, ref.candles, `seed ${seed}`);
      const single = runPerTrade(new Aggregator({ exchange: ds.exchange, graceMs }), trades, finalWm);
      assert.deepEqual(single.candles, batch.candles, 'per trade == random batches, bit for bit');
      // Arrival order changes only the last bits of sums: OHLC and counts are order-free.
      const a = perPair(batch.candles);
      for (const [pair, list] of perPair(inOrder.candles)) {
        list.forEach((c, i) => {
          const g = (a.get(pair) ?? [])[i] as Candle;
          assert.deepEqual([g.open, g.high, g.low, g.close, g.trade_count, g.filled], [c.open, c.high, c.low, c.close, c.trade_count, c.filled]);
          for (const k of ['volume', 'buy_volume', 'sell_volume', 'vwap'] as const) {
            assert.ok(Math.abs(g[k] - c[k]) <= 1e-9 * Math.max(1, Math.abs(c[k])), `${pair} ${i} ${k}`);
          }
        });
      }
    }
  });

  test(`${ds.name}: delayed trades beyond grace are late, replays are duplicates; reported like the reference`, () => {
    const sorted = ds.load();
    const graceMs = 1_000;
    const finalWm = lastEnd(sorted, 60_000);
    const r = rng(99);
    // Delay ~2% of trades by 400 arrivals, and replay ~1% of trades either soon (open window) or much later.
    const arrivals: { t: Trade; at: number }[] = sorted.map((t, i) => ({ t, at: r() < 0.02 ? i + 400.5 : i }));
    for (let i = 0; i < sorted.length; i++) {
      if (r() < 0.01) arrivals.push({ t: sorted[i] as Trade, at: i + (r() < 0.5 ? 3.25 : 900.25) });
    }
    const trades = arrivals.sort((a, b) => a.at - b.at).map((x) => x.t);
    const ref = reference(trades, ds.exchange, 60, graceMs, finalWm);
    assert.ok(ref.late.length > 0 && ref.duplicates.length > 0 && ref.lateDuplicate.length > 0, 'the variant exercises every case');
    const agg = new Aggregator({ exchange: ds.exchange, graceMs });
    const batch = runBatches(agg, trades, [Math.floor(trades.length / 3)], finalWm);
    assert.deepEqual(batch.late, ref.late);
    assert.deepEqual(batch.lateDuplicate, ref.lateDuplicate);
    assert.deepEqual(batch.duplicates, ref.duplicates);
    assertSameCandles(batch.candles, ref.candles, 'late variant');
    const s = agg.stats();
    assert.equal(s.late, ref.late.length);
    assert.equal(s.lateDuplicates, ref.lateDuplicate.length);
    assert.equal(s.duplicates, ref.duplicates.length);
    assert.equal(s.accepted + s.late + s.lateDuplicates + s.duplicates, trades.length);
    const single = runPerTrade(new Aggregator({ exchange: ds.exchange, graceMs }), trades, finalWm);
    assert.deepEqual(single, batch);
  });

  test(`${ds.name}: snapshot, restore and replay of an overlap give the uninterrupted candles`, () => {
    const trades = ds.load();
    const finalWm = lastEnd(trades, 60_000);
    const whole = runBatches(new Aggregator({ exchange: ds.exchange }), trades, [], finalWm);
    const cut = Math.floor(trades.length * 0.6);
    const first = new Aggregator({ exchange: ds.exchange });
    const head = runPerTrade(first, trades.slice(0, cut), 0);
    const snap = first.snapshot();
    assert.equal(typeof JSON.parse(snap), 'object');
    // Resume after a restart, replaying the last 300 trades before the cut (at-least-once delivery).
    const resumed = Aggregator.restore(snap);
    const tail = runBatches(resumed, trades.slice(cut - 300), [], finalWm);
    assert.deepEqual([...head.candles, ...tail.candles], whole.candles);
    assert.equal(tail.late.length + tail.lateDuplicate.length + tail.duplicates.length >= 300, true);
    assert.equal(tail.late.length, 0, 'replayed trades are recognised by id');
  });
}

test('bad trades throw a coded error, are counted and change nothing; bad rows in a batch are reported', () => {
  const agg = new Aggregator({ exchange: 'kraken', graceMs: 0 });
  const good: Trade = { exchange: 'kraken', pair: 'BTC/USD', trade_id: '1', price: 100, qty: 1, side: 'buy', ts_ms: 60_000 };
  const bad: [Record<string, unknown>, string][] = [
    [{ price: Number.NaN }, 'bad_price'],
    [{ price: 0 }, 'bad_price'],
    [{ qty: -1 }, 'bad_qty'],
    [{ ts_ms: -5 }, 'bad_time'],
    [{ ts_ms: 1.5 }, 'bad_time'],
    [{ side: 'b' }, 'bad_side'],
    [{ trade_id: '' }, 'bad_trade_id'],
    [{ pair: 'btc-usd' }, 'bad_pair'],
    [{ exchange: 'binance' }, 'exchange_mismatch'],
  ];
  for (const [patch, reason] of bad) {
    assert.throws(
      () => agg.push({ ...good, ...patch } as Trade),
      (e: unknown) => (e as { code?: string }).code === 'TICKCAST_AGG_BAD_TRADE' && String((e as Error).message).startsWith(`${reason}:`),
      reason,
    );
  }
  assert.equal(agg.stats().rejected, bad.length);
  assert.equal(agg.stats().rejectedByReason.bad_price, 2);
  assert.equal(agg.push(good).outcome, 'accepted');
  const cols = columns([good, { ...good, trade_id: '2', qty: Number.NaN }, { ...good, trade_id: '3' }], 'f64');
  const r = agg.pushBatch(cols);
  assert.deepEqual([...r.rejectedRows], [1]);
  assert.deepEqual(r.rejectedReasons, ['bad_qty']);
  assert.equal(r.accepted, 1);
  assert.throws(() => agg.pushBatch({ ...cols, prices: new Float64Array(2) }), { code: 'TICKCAST_AGG_BAD_BATCH' });
  assert.throws(() => agg.advanceWatermark(Number.NaN), { code: 'TICKCAST_AGG_BAD_WATERMARK' });
  assert.throws(() => new Aggregator({ exchange: 'kraken', intervalS: 0 }), { code: 'TICKCAST_AGG_INVALID_OPTIONS' });
  assert.throws(() => new Aggregator({ exchange: 'kraken', graceMs: 1.5 }), { code: 'TICKCAST_AGG_INVALID_OPTIONS' });
  assert.throws(() => Aggregator.restore('{"format":"x"}'), { code: 'TICKCAST_AGG_BAD_SNAPSHOT' });
});

test('quiet market: advanceWatermark closes the last minute and fills; no candle before the first trade', () => {
  const agg = new Aggregator({ exchange: 'kraken', graceMs: 5_000 });
  assert.deepEqual(agg.advanceWatermark(10 * 60_000), []);
  const t0 = 1_561_939_200_000; // 2019-07-01T00:00:00Z
  assert.deepEqual(agg.push({ pair: 'BTC/USD', trade_id: '1', price: 10_749.4, qty: 0.004, side: 'sell', ts_ms: t0 + 3_172 }).candles, []);
  assert.equal(agg.watermarkMs('BTC/USD'), t0 + 3_172 - 5_000);
  // The caller's clock says 00:03:05 and the market is silent: grace passed for three windows.
  const out = agg.advanceWatermark(t0 + 3 * 60_000, 'BTC/USD');
  assert.deepEqual(
    out.map((c) => [c.window_start_ms - t0, c.filled, c.close, c.volume]),
    [
      [0, false, 10_749.4, 0.004],
      [60_000, true, 10_749.4, 0],
      [120_000, true, 10_749.4, 0],
    ],
  );
  assert.equal(agg.push({ pair: 'BTC/USD', trade_id: '2', price: 1, qty: 1, side: 'buy', ts_ms: t0 + 100_000 }).outcome, 'late');
});
