/**
 * fast-check.ts against its reference, TypeBox's own compiled check
 * (TypeCompiler.Compile(schema).Check, compiled here, not through codec.ts):
 * the same verdict on real rows (candles and technical features from the real
 * stages over real Kraken trades) and on hostile documents built from them
 * (NaN, ±Infinity, missing, extra and mistyped fields, odd keys, oversized and
 * non-plain feature maps), and on random mutations of both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type, type TSchema } from '../../src/contracts/typebox.ts';
import { TypeCompiler } from '../../src/contracts/typebox.ts';
import { BookFeatures, Candle, TechnicalFeatures, Trade } from '../../src/contracts/messages.ts';
import { fastCheckOf, validate, validatorOf } from '../../src/contracts/codec.ts';
import { fastCheck } from '../../src/contracts/fast-check.ts';
import { CandleStage } from '../../src/pipeline/candle-stage.ts';
import { FeatureStage } from '../../src/pipeline/feature-stage.ts';
import { readTradeCsv } from '../../src/sources/trade-csv.ts';
import { SentimentFeatures } from '../../src/stores/types.ts';
import { testData } from '../fixtures/test-data.ts';
import { mulberry32 } from '../fixtures/rng.ts';

/** Real candles and feature rows (warm-up nulls included) from an hour of real trades. */
async function realRows(): Promise<{ candles: Candle[]; features: TechnicalFeatures[] }> {
  const trades: Trade[] = [];
  for await (const b of readTradeCsv(testData('trades/kraken_XBTUSD_trades_20190701T0000-0100.csv'), { pair: 'BTC/USD' })) trades.push(...b.trades);
  const stage = new CandleStage();
  const last = trades[trades.length - 1] as Trade;
  const candles = [...stage.pushMany(trades).candles, ...stage.advance(last.ts_ms + 120_000, 'BTC/USD')];
  const fs = new FeatureStage(60);
  const features: TechnicalFeatures[] = [];
  for (const c of candles) {
    const o = fs.onCandle(c);
    if (o.kind === 'row') features.push(o.row);
  }
  return { candles, features };
}

const clone = <T>(v: T): T => structuredClone(v);
const withFeatures = (row: object, features: unknown): object => ({ ...row, features });
const manyKeys = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f_${i}`, i]));

/** Hostile variants of a document that has a `features` map. */
function hostileFeatureDocs(row: Record<string, unknown>): unknown[] {
  const f = row.features as Record<string, unknown>;
  const out: unknown[] = [row, null, undefined, 42, 'row', [], [row], new Date(0)];
  const values: unknown[] = [NaN, Infinity, -Infinity, -0, 0, 1e308, -1e-308, null, undefined, '1', true, {}, [], [1], new Date(0)];
  for (const v of values) {
    out.push(withFeatures(row, { ...f, rsi_14: v })); // a key that matches the pattern
    out.push(withFeatures(row, { ...f, 'RSI 14': v })); // one that does not: TypeBox accepts it whatever its value
    out.push(withFeatures(row, { ...f, '': v }));
    out.push(withFeatures(row, { ...f, 'a"b\\c\n': v }));
  }
  for (const m of [null, undefined, [], [1, 2], new Date(0), new Uint8Array(2), new Map([['a', 1]]), 'features', 1, {}, Object.create(null)]) {
    out.push(withFeatures(row, m));
  }
  const bare = Object.assign(Object.create(null) as object, f);
  out.push(withFeatures(row, bare));
  for (const n of [127, 128, 129, 511, 512, 513]) out.push(withFeatures(row, manyKeys(n)));
  // Non-enumerable properties: counted by maxProperties (getOwnPropertyNames), not visited by the entries.
  const hidden = manyKeys(512);
  Object.defineProperty(hidden, 'hidden_nan', { value: NaN, enumerable: false });
  out.push(withFeatures(row, hidden));
  const hiddenFew = { ...f };
  Object.defineProperty(hiddenFew, 'hidden_nan', { value: NaN, enumerable: false });
  out.push(withFeatures(row, hiddenFew));
  // Symbol keys and inherited keys: neither are own string keys.
  out.push(withFeatures(row, { ...f, [Symbol('s')]: NaN }));
  out.push(withFeatures(row, Object.assign(Object.create({ inherited: NaN }) as object, f)));
  // The map itself inherited (the document has one extra own key instead).
  const { features: _features, ...rest } = row;
  out.push(Object.assign(Object.create({ features: f }) as object, rest, { extra: 1 }));
  out.push(Object.assign(Object.create({ features: f }) as object, rest));
  // Top-level fields: missing, extra, mistyped, out of range.
  for (const k of Object.keys(row)) {
    const { [k]: _gone, ...without } = row;
    out.push(without);
    for (const v of [NaN, Infinity, -1, 0, 0.5, 60.5, 1e20, '60', 'btc/usd', 'BTC/USD', 'BTCUSD', 'B/U', null, undefined, true, {}]) out.push({ ...row, [k]: v });
  }
  out.push({ ...row, extra: 1 });
  out.push({ ...row, extra: undefined });
  return out;
}

/** Hostile variants of a document without a map (candles). */
function hostileFlatDocs(row: Record<string, unknown>): unknown[] {
  const out: unknown[] = [row, { ...row, extra: 1 }];
  for (const k of Object.keys(row)) {
    const { [k]: _gone, ...without } = row;
    out.push(without);
    for (const v of [NaN, Infinity, -1, 0, 0.5, 1e20, '1', null, undefined, true, false]) out.push({ ...row, [k]: v });
  }
  return out;
}

/** Random mutations: a field or a feature replaced by a value from a hostile pool, or deleted, or added. */
function mutations(rows: Record<string, unknown>[], n: number, seed: number): unknown[] {
  const rnd = mulberry32(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)] as T;
  const pool: unknown[] = [NaN, Infinity, -Infinity, -0, 0, 1, -1, 0.5, 1e15, 4e13, null, undefined, '', 'x', 'BTC/USD', true, [], {}];
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const d = clone(pick(rows));
    const target = d.features !== undefined && rnd() < 0.6 ? (d.features as Record<string, unknown>) : d;
    const keys = Object.keys(target);
    const op = rnd();
    if (op < 0.7) target[pick(keys)] = pick(pool);
    else if (op < 0.85) delete target[pick(keys)];
    else target[pick(['extra', 'rsi_99', 'Bad Key', 'a.b_c', '9'])] = pick(pool);
    out.push(d);
  }
  return out;
}

/** The documents on which two checks disagree. */
function disagreements(check: (v: unknown) => boolean, reference: (v: unknown) => boolean, docs: readonly unknown[]): unknown[] {
  return docs.filter((d) => check(d) !== reference(d));
}

const reference = (schema: TSchema) => {
  const c = TypeCompiler.Compile(schema);
  return (v: unknown) => c.Check(v);
};

test('fast check: the same verdict as TypeBox on real and hostile technical feature rows', async () => {
  const { features } = await realRows();
  assert.ok(features.length >= 60, `${features.length} feature rows`);
  assert.ok(features.some((r) => Object.values(r.features).includes(null)), 'warm-up rows with nulls');
  const docs = [...features, ...hostileFeatureDocs(features[features.length - 1] as Record<string, unknown>), ...hostileFeatureDocs(features[0] as Record<string, unknown>)];
  docs.push(...mutations(features as Record<string, unknown>[], 5000, 7));
  const ref = reference(TechnicalFeatures);
  const fast = fastCheckOf(TechnicalFeatures);
  assert.deepEqual(disagreements(fast, ref, docs), []);
  // Both outcomes occur, and every real row passes.
  const accepted = docs.filter(ref).length;
  assert.ok(accepted > features.length && accepted < docs.length, `${accepted} of ${docs.length} accepted`);
  assert.ok(features.every(fast));
  // A second pass (the remembered keys in use) gives the same verdicts.
  assert.deepEqual(disagreements(fast, ref, docs), []);
});

test('fast check: the same verdict as TypeBox on book and sentiment feature maps, and on candles', async () => {
  const { candles } = await realRows();
  const book = { exchange: 'kraken', pair: 'BTC/USD', interval_s: 60, window_end_ms: 1_561_939_260_000, features: { spread_bp: 0.9, depth_1: 3.5, imbalance_5: null } };
  const sentiment = { coin: 'BTC', ts_ms: 1_561_939_260_000, features: { 'score.mean_1h': 0.25, news_count_1h: 3, 'score.min_1h': null } };
  const cases: [TSchema, unknown[]][] = [
    [BookFeatures, [...hostileFeatureDocs(book), ...mutations([book], 2000, 11)]],
    [SentimentFeatures, [...hostileFeatureDocs(sentiment), ...mutations([sentiment], 2000, 13)]],
    [Candle, [...candles, ...candles.slice(0, 5).flatMap((c) => hostileFlatDocs(c as Record<string, unknown>)), ...mutations(candles as Record<string, unknown>[], 2000, 17)]],
  ];
  for (const [schema, docs] of cases) {
    const ref = reference(schema);
    assert.deepEqual(disagreements(fastCheckOf(schema), ref, docs), [], String(schema.$id));
    const accepted = docs.filter(ref).length;
    assert.ok(accepted > 0 && accepted < docs.length, `${String(schema.$id)}: ${accepted} of ${docs.length} accepted`);
  }
});

test('fast check: Record options it covers (additionalProperties false, minProperties, two maps) and those it leaves to TypeBox', () => {
  const Strict = Type.Object(
    {
      id: Type.String(),
      a: Type.Record(Type.String({ pattern: '^[a-z]+$' }), Type.Number(), { additionalProperties: false, minProperties: 1, maxProperties: 3 }),
      b: Type.Record(Type.String({ pattern: '^x_[0-9]+$' }), Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
      // Optional: left to TypeBox.
      c: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z]+$' }), Type.Boolean())),
    },
    { additionalProperties: false },
  );
  const base = { id: 'k', a: { p: 1 }, b: { x_1: 2, x_2: null } };
  const docs: unknown[] = [base, ...hostileFeatureDocs({ ...base, features: undefined })];
  for (const a of [{}, { p: 1, q: 2, r: 3 }, { p: 1, q: 2, r: 3, s: 4 }, { P: 1 }, { p: NaN }, { p: '1' }, Object.create(null)]) docs.push({ ...base, a });
  for (const b of [{}, { x_1: -1 }, { x_1: 1.5 }, { y: 'anything' }, { x_1: null, z: NaN }]) docs.push({ ...base, b });
  for (const c of [{}, { t: true }, { t: 1 }, { T: 1 }, null, undefined]) docs.push({ ...base, c });
  docs.push(...mutations([base, { ...base, c: { t: false } }], 3000, 19));
  const ref = reference(Strict);
  assert.deepEqual(disagreements(fastCheck(Strict, validatorOf), ref, docs), []);
  const accepted = docs.filter(ref).length;
  assert.ok(accepted > 5 && accepted < docs.length, `${accepted} of ${docs.length} accepted`);
});

test('fast check: the comparison catches a check that is not the same (a map check that ignores maxProperties)', async () => {
  const { features } = await realRows();
  const row = features[features.length - 1] as Record<string, unknown>;
  const docs = hostileFeatureDocs(row);
  // The fast check of the same schema without maxProperties: accepts 513 features where TypeBox refuses them.
  const { maxProperties: _max, ...unbounded } = TechnicalFeatures.properties.features;
  const loose = fastCheck(Type.Object({ ...TechnicalFeatures.properties, features: unbounded as TSchema }, { additionalProperties: false }), validatorOf);
  const found = disagreements(loose, reference(TechnicalFeatures), docs);
  assert.ok(found.length > 0, 'the hostile documents tell the two apart');
});

test('validate: the reasons of a rejection are still TypeBox errors', async () => {
  const { features } = await realRows();
  const row = features[features.length - 1] as TechnicalFeatures;
  const v = validate(TechnicalFeatures, { ...row, features: { ...row.features, rsi_14: NaN } });
  assert.equal(v.ok, false);
  assert.match((v as { reason: string }).reason, /^schema: \/features\/rsi_14: /);
  assert.deepEqual(validate(TechnicalFeatures, row), { ok: true, value: row });
});
