// Order-book features in training (issue 22.5), through the SQLite feature store:
// - the dataset joins, at each row's time t, the newest book row of the chosen exchange and
//   pair with window_end_ms <= t when it is at most 2 minutes old, and nothing else: checked
//   against a plain scan over the stored rows (every joined value names the row it came from,
//   so a row after t would show); rows without book data get NaN, never zeros;
// - with the book in the store, a volatility run registers a model whose report and meta show
//   the walk-forward with and without the book columns, and say that so short a book history
//   cannot judge skill; the predictor's path serves that model with the same book columns, and
//   the predictor service, with it in production, publishes the dataset row's value (the book
//   row at t, an older one, none);
// - without book rows for the pair, the columns are those of before.
// Technical rows: real Coinbase BTC-USD 1-minute candles (data/sample). Book rows: made up
// here with known times (the real book recordings are of another day and pair).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Value } from '../../src/contracts/typebox.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { datasetOf, runTraining } from '../../src/training/training-run.ts';
import { openStores } from '../../src/stores/index.ts';
import type { BookFeatures, TechnicalFeatures } from '../../src/contracts/messages.ts';
import { BOOK_MAX_AGE_MS, bookAsOfAge } from '../../src/model/feature-row.ts';
import { TargetPredictor } from '../../src/model/target-predictor.ts';
import { targetOf } from '../../src/model/targets.ts';
import { CONTEXT_FEATURES, CONTEXT_RETURNS, contextFromCloses } from '../../src/model/context-features.ts';
import { ModelMeta } from '../../src/registry/model-meta.ts';
import { folderRegistry } from '../../src/registry/folder-registry.ts';
import { lightgbm, lightgbmUnavailableReason } from '../../src/model/backends.ts';
import { Bus } from '../../src/bus/bus.ts';
import { MemoryTransport } from '../../src/bus/memory.ts';
import { loadConfig } from '../../src/config/config.ts';
import { predictorService } from '../../src/pipeline/predictor-service.ts';
import type { Prediction } from '../../src/contracts/messages.ts';

const logger = pino({ level: 'silent' });
const PAIR = 'BTC/USD';
const FILE = join(REPO_ROOT, 'data', 'sample', 'candles', 'coinbase_BTCUSD_1m_lean.csv');
const seg = readCandleCsv(FILE, { pair: PAIR }).segments.reduce((a, b) => (b.length > a.length ? b : a)).slice(0, 1200);
const tech = technicalRowsFromCandles([seg]);
const T = tech.rows.map((r) => r.window_end_ms);

const closeAt = new Map(seg.map((c) => [c.window_end_ms, c.close]));
/** A value the model can use: the size of the move of the 5 minutes after technical row i (made-up book data may look ahead; the join must not). */
const signal = (i: number) => Math.abs(Math.log((closeAt.get(T[i]! + 300_000) ?? closeAt.get(T[i]!)!) / closeAt.get(T[i]!)!)) * 1e4;

/** A made-up book row whose `spread_twa` is its own window_end_ms in seconds (so a joined value names its row); `ofi` carries `signal` of the row it is meant for. */
function bookRow(exchange: string, pair: string, endMs: number, messages: number | null = 7, ofi = (endMs % 7_919) - 3_000): BookFeatures {
  return { exchange, pair, interval_s: 60, window_end_ms: endMs, features: { spread_twa: endMs / 1000, ofi, messages } };
}

// Kraken BTC/USD: rows on either side of the technical times of rows 300..900, a hole of
// 10 minutes (rows 500..510: no book row, later rows fall out of the 2-minute limit), one row
// 1 ms after a technical time (joined only by later rows) and one exactly at one (joined at it).
const kraken: BookFeatures[] = [];
for (let i = 300; i < 900; i++) {
  if (i >= 500 && i < 510) continue;
  if (i % 3 !== 1) kraken.push(bookRow('kraken', PAIR, T[i]! - 20_000, i % 9 === 0 ? null : 3, signal(i)));
  if (i % 11 === 0) kraken.push(bookRow('kraken', PAIR, T[i]! + 1, 7, signal(i + 1)));
  if (i % 13 === 0) kraken.push(bookRow('kraken', PAIR, T[i]!, 7, signal(i)));
}
// Noise that must never be joined: another exchange of the same pair whose newest row is older
// than Kraken's, and another pair of the same exchange.
const others = [bookRow('binance', PAIR, T[850]!), bookRow('binance', PAIR, T[400]! - 5_000), bookRow('kraken', 'ETH/USD', T[600]! - 1_000), bookRow('kraken', 'ETH/USD', T[601]!)];

/** The book row to join at t, by a plain scan: the newest Kraken BTC/USD row at or before t, if at most 2 minutes old. */
function expectedAt(t: number): BookFeatures | null {
  let best: BookFeatures | null = null;
  for (const b of kraken) if (b.window_end_ms <= t && (best === null || b.window_end_ms > best.window_end_ms)) best = b;
  return best !== null && t - best.window_end_ms <= 120_000 ? best : null;
}

async function withStore<R>(rows: { technical: TechnicalFeatures[]; book: BookFeatures[] }, f: (stores: Awaited<ReturnType<typeof openStores>>, dir: string) => Promise<R>): Promise<R> {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-book-join-'));
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  try {
    const w1 = await stores.features.technical.write(rows.technical);
    const w2 = await stores.features.book.write(rows.book);
    assert.equal(w1.rejected.length + w2.rejected.length, 0);
    return await f(stores, dir);
  } finally {
    await stores.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('the training set joins the book as of t: the newest row at or before t (2 minutes at most), NaN otherwise, never a row after t', async () => {
  assert.equal(BOOK_MAX_AGE_MS, 120_000, 'the documented age limit');
  await withStore({ technical: tech.rows, book: [...kraken, ...others] }, async (stores) => {
    const { dataset: ds } = await datasetOf({ pair: PAIR, source: { kind: 'store', stores }, target: 'volatility' });
    assert.equal(ds.bookExchange, 'kraken', 'the exchange with the newest book row of the pair');
    assert.deepEqual(ds.bookNames, ['spread_twa', 'ofi', 'messages']);
    const k = ds.featureNames.length;
    const at = ds.technicalNames.length + ds.sentimentNames.length;
    assert.deepEqual(ds.featureNames.slice(at, at + 3), ['book_spread_twa', 'book_ofi', 'book_messages']);
    let joined = 0;
    let missing = 0;
    let exactlyAtT = 0;
    for (let i = 0; i < ds.rows; i++) {
      const t = ds.times[i]!;
      const want = expectedAt(t);
      const got = [0, 1, 2].map((j) => ds.x[i * k + at + j]!);
      if (want === null) {
        assert.ok(got.every(Number.isNaN), `row at ${new Date(t).toISOString()}: no book row within 2 minutes, got ${got}`);
        missing++;
        continue;
      }
      joined++;
      assert.ok(got[0]! * 1000 <= t, `row at ${new Date(t).toISOString()} (${t}) joined the book row of ${got[0]! * 1000}: after t, or none`);
      assert.equal(got[0], want.window_end_ms / 1000, `row at ${new Date(t).toISOString()}`);
      assert.equal(got[1], want.features.ofi);
      if (want.features.messages === null) assert.ok(Number.isNaN(got[2]!), 'a null book value is missing, not 0');
      else assert.equal(got[2], want.features.messages);
      if (want.window_end_ms === t) exactlyAtT++;
    }
    assert.ok(joined > 400 && missing > 300, `both cases occur: ${joined} joined, ${missing} without book`);
    assert.ok(exactlyAtT > 20, `rows at exactly t are joined at t: ${exactlyAtT}`);
    // The hole: rows 500..509 had no book row; 2 minutes after the last one the columns are missing.
    const holeRow = ds.times.indexOf(T[506]!);
    assert.ok(holeRow >= 0 && Number.isNaN(ds.x[holeRow * k + at]!), 'a stale book row is not joined');
  });
});

test('without book rows for the pair the training columns are those of before', async () => {
  await withStore({ technical: tech.rows, book: others.filter((b) => b.pair !== PAIR) }, async (stores) => {
    const { dataset: ds } = await datasetOf({ pair: PAIR, source: { kind: 'store', stores }, target: 'volatility' });
    assert.deepEqual(ds.bookNames, []);
    assert.equal(ds.bookExchange, undefined);
    assert.deepEqual(ds.featureNames, [...tech.names, ...CONTEXT_FEATURES]);
  });
});

test('volatility with the book in the store: the walk-forward report shows it with and without the book features, and the predictor serves the book columns', { timeout: 120_000 }, async () => {
  assert.ok(lightgbm(), lightgbmUnavailableReason());
  await withStore({ technical: tech.rows, book: [...kraken, ...others] }, async (stores, dir) => {
    const registry = folderRegistry(join(dir, 'registry'));
    try {
      const res = await runTraining({ registry, pair: PAIR, source: { kind: 'store', stores }, target: 'volatility', folds: 3, logger });
      const meta = (await registry.meta(res.meta.version))!;
      assert.ok(meta, 'registered');
      assert.ok(Value.Check(ModelMeta, meta), JSON.stringify([...Value.Errors(ModelMeta, meta)][0]));
      assert.deepEqual(meta.book_features, ['spread_twa', 'ofi', 'messages']);
      assert.equal(meta.book_exchange, 'kraken');
      const bc = meta.evaluation.book_comparison!;
      assert.ok(bc, 'the meta carries the comparison');
      const pm = targetOf('volatility').primaryMetric;
      assert.ok(Number.isFinite(bc.with_book[pm]!) && Number.isFinite(bc.without_book[pm]!), JSON.stringify(bc));
      assert.equal(bc.with_book[pm], meta.evaluation.scores!.model![pm], 'the "with" side is the registered walk-forward');
      // Counts recomputed from the dataset and the folds' test rows.
      const ds = res.dataset;
      const k = ds.featureNames.length;
      const at = ds.technicalNames.length;
      const hasBook = (i: number) => !Number.isNaN(ds.x[i * k + at]!) || !Number.isNaN(ds.x[i * k + at + 1]!);
      assert.equal(bc.rows, ds.rows);
      assert.equal(bc.rows_with_book, Array.from({ length: ds.rows }, (_, i) => i).filter(hasBook).length);
      assert.ok(bc.test_rows_with_book > 0 && bc.test_rows_with_book < bc.test_rows, JSON.stringify(bc));
      assert.match(bc.note, /cannot be judged/);
      const html = await registry.report(meta.version);
      assert.ok(html);
      assert.match(html, /With and without the order-book features \(kraken\)/);
      assert.match(html, /<td>with book features<\/td>/);
      assert.match(html, /<td>without book features<\/td>/);
      assert.match(html, /cannot be judged/);
      // The predictor's path: the stored model, the row's book as of t by the same rule, the same output as the dataset's row.
      const stored = (await registry.load(meta.version))!;
      const served = new TargetPredictor(stored.meta, stored.modelText);
      assert.ok(served.usesBook);
      const imp = res.targetResult!.model.importance();
      const bookGain = ds.featureNames.map((n, j) => (n.startsWith('book_') ? imp[j] ?? 0 : 0)).reduce((a, b) => a + b, 0);
      assert.ok(bookGain > 0, 'the model splits on the book columns (so serving them matters)');
      const direct = targetOf('volatility').load(stored.meta.kind, stored.modelText, stored.meta.feature_names);
      const byT = new Map(tech.rows.map((r) => [r.window_end_ms, r]));
      const closes = new Map(seg.map((c) => [c.window_end_ms, c.close]));
      let withBook = 0;
      for (let i = 0; i < ds.rows; i += 7) {
        const t = ds.times[i]!;
        const book = bookAsOfAge(await stores.features.book.asOf({ exchange: 'kraken', pair: PAIR, interval_s: 60 }, t), t);
        assert.equal(book?.window_end_ms ?? null, expectedAt(t)?.window_end_ms ?? null, 'the store lookup at serving time finds the row the dataset joined');
        if (book) withBook++;
        const past = Array.from({ length: CONTEXT_RETURNS + 1 }, (_, j) => closes.get(t - (CONTEXT_RETURNS - j) * 60_000)!);
        const ctx = new Float64Array(CONTEXT_FEATURES.length);
        contextFromCloses(past, t, ctx);
        const out = served.predict(byT.get(t)!, null, ctx, book);
        assert.equal(out.kind, 'ok');
        const o = direct.predict(ds.x.slice(i * k, i * k + k), new Float64Array(targetOf('volatility').outputs.length));
        if (out.kind === 'ok') assert.deepEqual(out.values, targetOf('volatility').publish(o, ds.closes[i]!));
      }
      assert.ok(withBook > 10, `rows served with a book: ${withBook}`);

      // The predictor service, with this model in production: its message for a row carries the value of the dataset's row (book joined by the service).
      await registry.promote(meta.version, 'test');
      const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
      await bus.start();
      const predictions: Prediction[] = [];
      await bus.consume({ group: 'test-preds', topics: ['predictions'], fromBeginning: true, handler: (p) => void predictions.push(p) });
      const svc = predictorService({ registry, pollMs: 0 });
      try {
        await svc.start({ config: loadConfig({ env: { TICKCAST_DATA_DIR: dir } }), logger, bus, stores: async () => stores, signal: new AbortController().signal });
        // Rows whose output the book columns change (so a predictor that left them missing would be caught): one joined to an older book row, one to a row at t; and one without book.
        const out = (x: Float64Array) => direct.predict(x, new Float64Array(targetOf('volatility').outputs.length))[0]!;
        const bookMatters = (i: number) => {
          const x = ds.x.slice(i * k, i * k + k);
          const without = x.slice();
          for (let j = 0; j < ds.bookNames.length; j++) without[at + j] = Number.NaN;
          return out(x) !== out(without);
        };
        const picks = [ds.times.findIndex((t, i) => expectedAt(t) !== null && expectedAt(t)!.window_end_ms < t && bookMatters(i)), ds.times.findIndex((t, i) => expectedAt(t)?.window_end_ms === t && bookMatters(i)), ds.times.findIndex((t, i) => i > 200 && expectedAt(t) === null)];
        assert.ok(picks.every((i) => i >= 0), `rows with an older book row, one at t (whose output the book changes), none: ${picks}`);
        for (const i of picks) {
          const t = ds.times[i]!;
          await bus.publish('featuresTechnical', [byT.get(t)!]);
          await bus.drain();
          const p = predictions.at(-1)!;
          assert.equal(p.made_at_ms, t);
          const want = targetOf('volatility').publish(direct.predict(ds.x.slice(i * k, i * k + k), new Float64Array(targetOf('volatility').outputs.length)), ds.closes[i]!).volatility!;
          assert.ok(Math.abs(p.volatility!.value / want - 1) < 1e-12, `row at ${new Date(t).toISOString()}: served ${p.volatility!.value}, dataset row ${want}`);
        }
        assert.equal(predictions.length, picks.length);
      } finally {
        await svc.stop();
        await bus.close();
      }
    } finally {
      await registry.close();
    }
  });
});
