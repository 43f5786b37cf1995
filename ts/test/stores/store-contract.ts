/**
 * The store contract: the same cases for every backend. A backend test file
 * calls `storeContract(factory)`; the factory gives fresh, isolated store
 * locations (a temp folder, an index prefix) that can be opened repeatedly.
 *
 * Expected results come from a naive in-memory reference (filter + sort of
 * the rows written), never from a store's own output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BookFeatures, Candle, Prediction, PredictionError, TechnicalFeatures } from '../../src/contracts/messages.ts';
import { StoreError } from '../../src/stores/store-error.ts';
import type { ForecastError, SentimentFeatures, Series, Stores } from '../../src/stores/types.ts';

/** A place where stores live; open() may be called again after close() (persistence). */
export interface StoreLocation {
  open(): Promise<Stores>;
  /** Remove everything the location holds (temp folder, test indices). */
  dispose(): Promise<void>;
}
export interface StoreFactory {
  name: string;
  create(): Promise<StoreLocation>;
}

type AnySeries = Series<object, object>;

/** How the contract builds rows of one series; `ns` makes each test's series names unique. */
interface Fixture {
  name: string;
  get(s: Stores): AnySeries;
  /** Selector of series k of namespace ns. */
  sel(ns: number, k: number): object;
  /** A valid row of series k at time t; `v` changes the values (not the key). */
  make(ns: number, k: number, t: number, v: number): object;
  timeField: string;
  /** A required numeric field that is not part of the key. */
  valueField: string;
  /** Natural key as DESIGN.md defines it (written out here independently). */
  key(doc: object): string;
  hasFeatures: boolean;
}

const T0 = Date.UTC(2024, 7, 8, 23, 55, 0); // 2024-08-08T23:55:00Z
const MIN = 60_000;
const pairOf = (ns: number, k: number) => `N${ns}P${k}/USD`;
const coinOf = (ns: number, k: number) => `N${ns}C${k}`;

const fixtures: Fixture[] = [
  {
    name: 'features.technical',
    get: (s) => s.features.technical as unknown as AnySeries,
    sel: (ns, k) => ({ pair: pairOf(ns, k), interval_s: 60 }),
    make: (ns, k, t, v): TechnicalFeatures => ({
      pair: pairOf(ns, k),
      interval_s: 60,
      window_end_ms: t,
      close: 61_000 + k * 1000 + v + (t - T0) / MIN,
      // `macd` beside `macd.signal`: a dotted name must stay a flat key.
      features: { rsi_14: 50 + v / 7, macd: 0.5 - 1.25 * v, 'macd.signal': 0.1 + v, ema_200: null },
    }),
    timeField: 'window_end_ms',
    valueField: 'close',
    key: (d) => {
      const m = d as TechnicalFeatures;
      return `${m.pair}|${m.interval_s}|${m.window_end_ms}`;
    },
    hasFeatures: true,
  },
  {
    name: 'features.sentiment',
    get: (s) => s.features.sentiment as unknown as AnySeries,
    sel: (ns, k) => ({ coin: coinOf(ns, k) }),
    make: (ns, k, t, v): SentimentFeatures => ({
      coin: coinOf(ns, k),
      ts_ms: t,
      features: { 'score.mean_1h': (v % 20) / 20 - 0.5, news_count_1h: v + k, 'score.min_1h': null },
    }),
    timeField: 'ts_ms',
    valueField: 'ts_ms', // no other top-level number: the time is the value field for wrong-type cases
    key: (d) => {
      const m = d as SentimentFeatures;
      return `${m.coin}|${m.ts_ms}`;
    },
    hasFeatures: true,
  },
  {
    name: 'candles',
    get: (s) => s.features.candles as unknown as AnySeries,
    sel: (ns, k) => ({ pair: pairOf(ns, k), interval_s: 60 }),
    make: (ns, k, t, v): Candle => {
      const close = 2_680 + k + v / 4;
      return {
        exchange: 'binance',
        pair: pairOf(ns, k),
        interval_s: 60,
        window_start_ms: t - MIN,
        window_end_ms: t,
        open: close - 1,
        high: close + 2,
        low: close - 3,
        close,
        volume: 12.5 + v,
        buy_volume: 7.5,
        sell_volume: 5 + v,
        vwap: close - 0.5,
        trade_count: 40 + v,
        filled: false,
      };
    },
    timeField: 'window_end_ms',
    valueField: 'close',
    key: (d) => {
      const m = d as Candle;
      return `${m.pair}|${m.interval_s}|${m.window_end_ms}`;
    },
    hasFeatures: false,
  },
  {
    name: 'predictions',
    get: (s) => s.predictions.predictions as unknown as AnySeries,
    sel: (ns, k) => ({ pair: pairOf(ns, k) }),
    make: (ns, k, t, v): Prediction => ({
      pair: pairOf(ns, k),
      made_at_ms: t,
      target_ms: t + 5 * MIN,
      horizon_s: 300,
      predicted_price: 61_700 + v * 0.5 + k,
      last_close: 61_690 + k,
      model_name: 'lgbm',
      model_version: 'v1',
    }),
    timeField: 'made_at_ms',
    valueField: 'predicted_price',
    key: (d) => {
      const m = d as Prediction;
      return `${m.pair}|${m.model_version}|${m.made_at_ms}`;
    },
    hasFeatures: false,
  },
  {
    name: 'prediction-errors',
    get: (s) => s.predictions.errors as unknown as AnySeries,
    sel: (ns, k) => ({ pair: pairOf(ns, k) }),
    make: (ns, k, t, v): PredictionError => ({
      pair: pairOf(ns, k),
      target_ms: t,
      predicted_price: 61_700 + v,
      actual_price: 61_650 + k,
      error: 50 + v - k,
      abs_pct_error: Math.abs(50 + v - k) / (61_650 + k) * 100,
      model_version: 'v1',
    }),
    timeField: 'target_ms',
    valueField: 'predicted_price',
    key: (d) => {
      const m = d as PredictionError;
      return `${m.pair}|${m.model_version}|${m.target_ms}`;
    },
    hasFeatures: false,
  },
  {
    // Issue 18: the resolved range / volatility / direction forecasts, a record kind of its own.
    name: 'forecast-errors',
    get: (s) => s.predictions.forecastErrors as unknown as AnySeries,
    sel: (ns, k) => ({ pair: pairOf(ns, k) }),
    make: (ns, k, t, v): ForecastError => ({
      pair: pairOf(ns, k),
      target: 'range',
      model_version: 'r1',
      baseline: false,
      made_at_ms: t - 5 * MIN,
      target_ms: t,
      last_close: 61_690 + k,
      actual_price: 61_700 + v,
      abs_error: 0.0004 + v * 1e-5,
      actual_log_return: Math.log((61_700 + v) / (61_690 + k)),
      lo80: -0.001,
      hi80: 0.0011,
      lo90: -0.0014,
      hi90: 0.0015,
      hit80: v % 2 === 0,
      hit90: true,
      pinball_bp: 1.5 + v,
      interval_score80_bp: 21 + v,
      interval_score90_bp: 29 + v,
      width80_bp: 21,
      width90_bp: 29,
    }),
    timeField: 'target_ms',
    valueField: 'last_close',
    key: (d) => {
      const m = d as ForecastError;
      return `${m.pair}|${m.target}|${m.model_version}|${m.target_ms}`;
    },
    hasFeatures: false,
  },
  {
    name: 'features.book',
    get: (s) => s.features.book as unknown as AnySeries,
    sel: (ns, k) => ({ exchange: 'kraken', pair: pairOf(ns, k), interval_s: 60 }),
    make: (ns, k, t, v): BookFeatures => ({
      exchange: 'kraken',
      pair: pairOf(ns, k),
      interval_s: 60,
      window_end_ms: t,
      features: { spread_twa: 0.5 + v / 100, ofi: -2.25 * v + k, microprice_close: null },
    }),
    timeField: 'window_end_ms',
    valueField: 'interval_s', // the only top-level number besides the time: wrong-type cases on it
    key: (d) => {
      const m = d as BookFeatures;
      return `${m.pair}|${m.exchange}|${m.interval_s}|${m.window_end_ms}`;
    },
    hasFeatures: true,
  },
];

/** The reference: rows by natural key, last write wins. */
class Reference {
  private readonly rows = new Map<string, object>();
  constructor(private readonly fx: Fixture) {}
  add(docs: object[]): void {
    for (const d of docs) this.rows.set(this.fx.key(d), structuredClone(d));
  }
  private t(d: object): number {
    return (d as Record<string, number>)[this.fx.timeField] as number;
  }
  /** Rows of a selector: every selector field equal. */
  of(sel: object): object[] {
    const rec = sel as Record<string, unknown>;
    return [...this.rows.values()].filter((d) => Object.entries(rec).every(([f, v]) => (d as Record<string, unknown>)[f] === v));
  }
  /** Range as the contract defines it: inclusive bounds, time then natural key, limit after ordering. */
  range(sel: object, q: { from_ms?: number; to_ms?: number; order?: 'asc' | 'desc'; limit?: number } = {}): object[] {
    const rows = this.of(sel)
      .filter((d) => (q.from_ms === undefined || this.t(d) >= q.from_ms) && (q.to_ms === undefined || this.t(d) <= q.to_ms))
      .sort((a, b) => this.t(a) - this.t(b) || (this.fx.key(a) < this.fx.key(b) ? -1 : 1));
    if (q.order === 'desc') rows.reverse();
    return q.limit === undefined ? rows : rows.slice(0, q.limit);
  }
}

/** Deterministic shuffle (LCG) so writes arrive out of time order. */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function assertInvalid(e: unknown, field: string): void {
  assert.ok(e instanceof StoreError, `expected a StoreError, got ${String(e)}`);
  assert.equal(e.code, 'INVALID_DOCUMENT');
  assert.match(e.message, new RegExp(field.replace(/[.]/g, '\\.')), `message should name the field '${field}': ${e.message}`);
}

/** Register the contract's tests for one backend. */
export function storeContract(factory: StoreFactory): void {
  describe(`store contract: ${factory.name}`, () => {
    let loc: StoreLocation;
    let stores: Stores;
    let nsCounter = 0;
    const nextNs = () => ++nsCounter;

    before(async () => {
      loc = await factory.create();
      stores = await loc.open();
    });
    after(async () => {
      await stores?.close();
      await loc?.dispose();
    });

    for (const fx of fixtures) {
      describe(fx.name, () => {
        test('upsert is idempotent: same natural key twice or changed -> one row, latest value', async () => {
          const ns = nextNs();
          const s = fx.get(stores);
          const a = fx.make(ns, 0, T0, 1);
          const changed = fx.make(ns, 0, T0, 2);
          assert.notDeepEqual(a, changed, 'fixture must change a value');
          assert.equal(fx.key(a), fx.key(changed));
          assert.deepEqual(await s.write([a]), { written: 1, rejected: [] });
          await s.write([a]);
          assert.deepEqual(await s.range(fx.sel(ns, 0)), [a]);
          await s.put(changed);
          assert.deepEqual(await s.range(fx.sel(ns, 0)), [changed]);
          // Duplicates inside one batch: the last one wins.
          await s.write([a, changed, a]);
          assert.deepEqual(await s.range(fx.sel(ns, 0)), [a]);
          assert.deepEqual(await s.latest(fx.sel(ns, 0)), a);
        });

        test('latest per pair (or coin), and latestAll one row per series', async () => {
          const ns = nextNs();
          const s = fx.get(stores);
          const ref = new Reference(fx);
          const rows: object[] = [];
          for (let k = 0; k < 3; k++) for (let i = 0; i < 6 + k; i++) rows.push(fx.make(ns, k, T0 + i * MIN, i));
          const order = shuffled(rows, 7);
          await s.write(order.slice(0, 8));
          await s.write(order.slice(8));
          ref.add(order);
          for (let k = 0; k < 3; k++) {
            const expected = ref.range(fx.sel(ns, k), { order: 'desc', limit: 1 })[0];
            assert.ok(expected);
            assert.equal((expected as Record<string, number>)[fx.timeField], T0 + (5 + k) * MIN);
            assert.deepEqual(await s.latest(fx.sel(ns, k)), expected);
          }
          assert.equal(await s.latest(fx.sel(ns, 9)), null, 'a series without rows has no latest');
          const mine = (await s.latestAll()).filter((d) => new RegExp(`^N${ns}[PC]`).test(fx.key(d)));
          const expectedAll = [0, 1, 2].map((k) => ref.range(fx.sel(ns, k), { order: 'desc', limit: 1 })[0]);
          assert.deepEqual(mine, expectedAll);
        });

        test('range: inclusive bounds, time order both ways, limit', async () => {
          const ns = nextNs();
          const s = fx.get(stores);
          const ref = new Reference(fx);
          const rows = Array.from({ length: 20 }, (_, i) => fx.make(ns, 0, T0 + i * MIN, i));
          const order = shuffled(rows, 11);
          for (let i = 0; i < order.length; i += 6) await s.write(order.slice(i, i + 6));
          ref.add(rows);
          const sel = fx.sel(ns, 0);
          const t = (i: number) => T0 + i * MIN;
          const inclusive = await s.range(sel, { from_ms: t(3), to_ms: t(8) });
          assert.equal(inclusive.length, 6, 'both bounds are inclusive');
          assert.deepEqual(inclusive, ref.range(sel, { from_ms: t(3), to_ms: t(8) }));
          assert.deepEqual(inclusive[0], rows[3]);
          assert.deepEqual(inclusive[5], rows[8]);
          // Bounds between rows include nothing extra.
          assert.deepEqual(await s.range(sel, { from_ms: t(3) + 1, to_ms: t(8) - 1 }), rows.slice(4, 8));
          assert.deepEqual(await s.range(sel, { from_ms: t(3), to_ms: t(8), order: 'desc' }), rows.slice(3, 9).reverse());
          assert.deepEqual(await s.range(sel, { from_ms: t(3), to_ms: t(8), limit: 2 }), rows.slice(3, 5));
          assert.deepEqual(await s.range(sel, { order: 'desc', limit: 3 }), rows.slice(17).reverse());
          assert.deepEqual(await s.range(sel, { from_ms: t(15) }), rows.slice(15));
          assert.deepEqual(await s.range(sel, { to_ms: t(1) }), rows.slice(0, 2));
          assert.deepEqual(await s.range(sel), ref.range(sel));
          assert.equal((await s.range(sel)).length, 20);
          assert.deepEqual(await s.range(sel, { from_ms: t(9), to_ms: t(2) }), [], 'from > to is empty');
          assert.deepEqual(await s.range(sel, { limit: 0 }), []);
          assert.deepEqual(await s.range(sel, { from_ms: t(100) }), []);
          await assert.rejects(s.range(sel, { limit: -1 }), (e: unknown) => e instanceof StoreError && e.code === 'INVALID_QUERY');
        });

        test('rangeMany: every range as the reference gives it, in the order asked (over 100 at once, longer than a page)', async () => {
          const ns = nextNs();
          const s = fx.get(stores);
          const ref = new Reference(fx);
          const rows = [20, 9, 1].flatMap((n, k) => Array.from({ length: n }, (_, i) => fx.make(ns, k, T0 + i * MIN, 100 * k + i)));
          await s.write(shuffled(rows, 5));
          ref.add(rows);
          const t = (i: number) => T0 + i * MIN;
          const qs: { from_ms?: number; to_ms?: number; order?: 'asc' | 'desc'; limit?: number }[] = [
            {},
            { from_ms: t(3), to_ms: t(8) },
            { order: 'desc', limit: 3 },
            { to_ms: t(12), order: 'asc' },
            { limit: 0 },
            { from_ms: t(9), to_ms: t(2) },
            { from_ms: t(2), limit: 15 },
          ];
          // Series 3 has no rows; 4 series x 7 queries, asked 5 times over in a shuffled order: 140 ranges.
          const reqs = shuffled(Array.from({ length: 5 }, () => [0, 1, 2, 3].flatMap((k) => qs.map((q) => ({ sel: fx.sel(ns, k), q })))).flat(), 3);
          const got = await s.rangeMany(reqs);
          assert.equal(got.length, reqs.length);
          reqs.forEach((r, i) => assert.deepEqual(got[i], ref.range(r.sel, r.q), `range ${i}: ${JSON.stringify(r.q)}`));
          assert.ok(got.some((g) => g.length === 20), 'a whole 20-row series came back');
          assert.deepEqual(await s.rangeMany([]), []);
          await assert.rejects(s.rangeMany([{ sel: fx.sel(ns, 0), q: { limit: -1 } }]), (e: unknown) => e instanceof StoreError && e.code === 'INVALID_QUERY');
        });

        test('as-of lookup: exact hit, between rows, before the first row -> null', async () => {
          const ns = nextNs();
          const s = fx.get(stores);
          const rows = [0, 5, 10].map((i, v) => fx.make(ns, 0, T0 + i * MIN, v));
          await s.write(shuffled(rows, 3));
          const sel = fx.sel(ns, 0);
          assert.deepEqual(await s.asOf(sel, T0 + 5 * MIN), rows[1], 'exact hit');
          assert.deepEqual(await s.asOf(sel, T0 + 5 * MIN - 1), rows[0], 'one ms before a row: the previous row');
          assert.deepEqual(await s.asOf(sel, T0 + 7 * MIN), rows[1], 'between rows: the earlier one');
          assert.deepEqual(await s.asOf(sel, T0), rows[0], 'exact hit on the first row');
          assert.equal(await s.asOf(sel, T0 - 1), null, 'before the first row');
          assert.deepEqual(await s.asOf(sel, T0 + 1_000 * MIN), rows[2], 'after the last row: the last');
          assert.equal(await s.asOf(fx.sel(ns, 1), T0 + 5 * MIN), null, 'another series has nothing');
        });

        test('bad documents are rejected with INVALID_DOCUMENT; the good ones of the batch are written', async () => {
          const ns = nextNs();
          const s = fx.get(stores);
          const good1 = fx.make(ns, 0, T0, 1);
          const good2 = fx.make(ns, 0, T0 + MIN, 2);
          const base = () => structuredClone(fx.make(ns, 0, T0 + 2 * MIN, 3)) as Record<string, unknown>;
          const bads: { label: string; field: string; doc: Record<string, unknown> }[] = [];
          const nan = base();
          nan[fx.valueField] = Number.NaN;
          bads.push({ label: 'NaN', field: fx.valueField, doc: nan });
          const inf = base();
          inf[fx.valueField] = Number.POSITIVE_INFINITY;
          bads.push({ label: 'Infinity', field: fx.valueField, doc: inf });
          const missing = base();
          delete missing[fx.timeField];
          bads.push({ label: 'missing time field', field: fx.timeField, doc: missing });
          const wrongType = base();
          wrongType[fx.valueField] = String(wrongType[fx.valueField]);
          bads.push({ label: 'number as string', field: fx.valueField, doc: wrongType });
          const extra = base();
          extra.surprise = 1;
          bads.push({ label: 'unknown field', field: 'surprise', doc: extra });
          if (fx.hasFeatures) {
            const fnan = base();
            (fnan.features as Record<string, unknown>).rsi_14 = Number.NaN;
            bads.push({ label: 'NaN feature', field: 'features/rsi_14', doc: fnan });
            const fstr = base();
            (fstr.features as Record<string, unknown>).rsi_14 = '50';
            bads.push({ label: 'feature as string', field: 'features/rsi_14', doc: fstr });
          }
          for (const bad of bads) {
            const r = await s.write([good1, bad.doc, good2] as object[]);
            assert.equal(r.written, 2, `${bad.label}: the two good documents are written`);
            assert.equal(r.rejected.length, 1, `${bad.label}: one rejected`);
            assert.equal(r.rejected[0]?.index, 1);
            assertInvalid(r.rejected[0]?.error, bad.field);
            await assert.rejects(s.put(bad.doc as object), (e: unknown) => {
              assertInvalid(e, bad.field);
              return true;
            });
          }
          await assert.rejects(s.put(null as unknown as object), (e: unknown) => e instanceof StoreError && e.code === 'INVALID_DOCUMENT');
          assert.deepEqual(await s.range(fx.sel(ns, 0)), [good1, good2], 'no bad document was stored');
        });

        test('series are isolated: pairs (or coins) never leak into each other', async () => {
          const ns = nextNs();
          const s = fx.get(stores);
          const ref = new Reference(fx);
          // Same times for both series, interleaved in one batch.
          const rows = [0, 1, 2, 3].flatMap((i) => [fx.make(ns, 0, T0 + i * MIN, i), fx.make(ns, 1, T0 + i * MIN, 10 + i)]);
          await s.write(rows);
          ref.add(rows);
          for (const k of [0, 1]) {
            const sel = fx.sel(ns, k);
            const got = await s.range(sel);
            assert.equal(got.length, 4);
            assert.deepEqual(got, ref.range(sel));
            assert.deepEqual(await s.latest(sel), ref.range(sel, { order: 'desc', limit: 1 })[0]);
            assert.deepEqual(await s.asOf(sel, T0 + 2 * MIN), ref.range(sel, { to_ms: T0 + 2 * MIN, order: 'desc', limit: 1 })[0]);
          }
        });
      });
    }

    test('features.technical: the same pair at another interval is another series', async () => {
      const ns = nextNs();
      const s = stores.features.technical;
      const m60 = fixtures[0]!.make(ns, 0, T0, 1) as TechnicalFeatures;
      const m300 = { ...m60, interval_s: 300, close: m60.close + 5 };
      await s.write([m60, m300]);
      assert.deepEqual(await s.range({ pair: m60.pair, interval_s: 60 }), [m60]);
      assert.deepEqual(await s.range({ pair: m60.pair, interval_s: 300 }), [m300]);
    });

    test('predictions: two model versions of a pair, with and without the model_version filter', async () => {
      const ns = nextNs();
      const s = stores.predictions.predictions;
      const v1 = fixtures[3]!.make(ns, 0, T0, 1) as Prediction;
      const v2 = { ...v1, model_version: 'v2', predicted_price: v1.predicted_price! + 10 };
      const v1later = { ...v1, made_at_ms: T0 + MIN };
      await s.write([v1, v2, v1later]);
      // Same time: ordered by natural key, so v1 (…|v1|…) before v2 (…|v2|…).
      assert.deepEqual(await s.range({ pair: v1.pair }), [v1, v2, v1later]);
      assert.deepEqual(await s.range({ pair: v1.pair, model_version: 'v2' }), [v2]);
      assert.deepEqual(await s.latest({ pair: v1.pair, model_version: 'v2' }), v2);
      assert.deepEqual(await s.latest({ pair: v1.pair }), v1later);
      assert.deepEqual(await s.asOf({ pair: v1.pair, model_version: 'v1' }, T0 + 30_000), v1);
    });

    test('predictions: the forecasts of issue 18 round-trip; a price-only row (as stored before) and a row without a price read back as written', async () => {
      const ns = nextNs();
      const s = stores.predictions.predictions;
      const old = fixtures[3]!.make(ns, 0, T0, 1) as Prediction;
      const full: Prediction = {
        ...old,
        made_at_ms: T0 + MIN,
        volatility: { value: 0.0021, model_version: 'vol-1' },
        range: { q05: -0.004, q10: -0.003, q50: 0.0001, q90: 0.0031, q95: 0.0042, lo80: 99.5, hi80: 100.4, lo90: 99.2, hi90: 100.6, calibrated: true, m80: 1.1, m90: 0.95, model_version: 'range-1' },
        direction: { p_up: 0.53, model_version: 'dir-1' },
      };
      const { predicted_price: _dropped, ...rest } = old;
      const noPrice: Prediction = { ...rest, made_at_ms: T0 + 2 * MIN, model_version: 'range-1', volatility: { value: 0.002, model_version: 'vol-1' } };
      const w = await s.write([old, full, noPrice]);
      assert.equal(w.rejected.length, 0, JSON.stringify(w.rejected));
      assert.deepEqual(await s.range({ pair: old.pair }), [old, full, noPrice]);
      assert.deepEqual(await s.latest({ pair: old.pair, model_version: 'v1' }), full);
      assert.equal((await s.range({ pair: old.pair }))[0]!.range, undefined, 'an old row has no forecasts, not empty ones');
      // A forecast with a field the contract does not know is refused, like any bad document.
      const bad = { ...full, made_at_ms: T0 + 3 * MIN, direction: { p_up: 0.5, model_version: 'dir-1', extra: 1 } } as unknown as Prediction;
      const r = await s.write([bad]);
      assert.equal(r.rejected.length, 1);
    });

    test('forecast-errors: a row of each target and a baseline round-trip; filters by target and model version', async () => {
      const ns = nextNs();
      const s = stores.predictions.forecastErrors;
      const range = fixtures[5]!.make(ns, 0, T0, 1) as ForecastError;
      const base: ForecastError = { ...range, model_version: 'baseline:gaussian_ewma', baseline: true, hit80: false, pinball_bp: 3.25 };
      const vol: ForecastError = {
        pair: range.pair, target: 'volatility', model_version: 'vol-1', baseline: false, made_at_ms: T0 - 5 * MIN, target_ms: T0,
        last_close: 100, actual_price: 100.2, abs_error: 0.1, predicted_vol: 0.0021, realized_vol: 0.0019, sq_log_vol_error: 0.01, qlike: 0.0052,
      };
      const dir: ForecastError = {
        pair: range.pair, target: 'direction', model_version: 'dir-1', baseline: false, made_at_ms: T0 - 5 * MIN, target_ms: T0,
        last_close: 100, actual_price: 100.2, abs_error: 0.47, p_up: 0.53, up: true, brier: 0.2209,
      };
      const w = await s.write([range, base, vol, dir]);
      assert.equal(w.rejected.length, 0, JSON.stringify(w.rejected));
      const all = await s.range({ pair: range.pair });
      assert.equal(all.length, 4);
      assert.deepEqual(new Set(all.map((r) => JSON.stringify(r))), new Set([range, base, vol, dir].map((r) => JSON.stringify(r))));
      assert.deepEqual(await s.range({ pair: range.pair, target: 'volatility' }), [vol]);
      assert.deepEqual(await s.range({ pair: range.pair, target: 'range', model_version: 'baseline:gaussian_ewma' }), [base]);
      assert.equal((await s.latest({ pair: range.pair, target: 'direction' }))?.up, true);
      const bad = { ...dir, target_ms: T0 + MIN, brier: 1.5 };
      const r = await s.write([bad]);
      assert.equal(r.rejected.length, 1, 'a Brier score above 1 is not a Brier score');
    });

    test('persistence: rows survive close and reopen; writing again after reopen does not duplicate', async () => {
      const own = await factory.create();
      try {
        const fx = fixtures[0]!;
        const rows = Array.from({ length: 5 }, (_, i) => fx.make(0, 0, T0 + i * MIN, i));
        const first = await own.open();
        await first.features.technical.write(rows as TechnicalFeatures[]);
        const p = fixtures[3]!.make(0, 0, T0, 1) as Prediction;
        await first.predictions.predictions.put(p);
        await first.close();
        await first.close(); // idempotent
        await assert.rejects(first.features.technical.latest({ pair: pairOf(0, 0), interval_s: 60 }), (e: unknown) => e instanceof StoreError && e.code === 'CLOSED');

        const second = await own.open();
        try {
          assert.deepEqual(await second.features.technical.range({ pair: pairOf(0, 0), interval_s: 60 }), rows);
          assert.deepEqual(await second.predictions.predictions.latest({ pair: pairOf(0, 0) }), p);
          await second.features.technical.write(rows as TechnicalFeatures[]); // a replay after restart
          assert.equal((await second.features.technical.range({ pair: pairOf(0, 0), interval_s: 60 })).length, 5);
        } finally {
          await second.close();
        }
      } finally {
        await own.dispose();
      }
    });
  });
}
