// Training through the model module with LightGBM (needs the
// @tickcast/lightgbm binding built), on a small slice of the bundled real
// Coinbase candles so the file stays fast:
// - the price target trains exactly as the binding does when called directly
//   with the documented parameters on the same rows (same model text, same
//   predictions), and serves the same price through the predictor's path;
// - volatility, range and direction train walk-forward against their
//   baselines, register under their own (pair, target) alias with the rule
//   applied, load back from the registry text and serve the same outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Value } from '../../src/contracts/typebox.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { trainModel } from '../../src/training/trainer.ts';
import { runTraining } from '../../src/training/training-run.ts';
import { trainTarget } from '../../src/training/target-trainer.ts';
import { lightgbm, lightgbmUnavailableReason, BACKENDS } from '../../src/model/backends.ts';
import { TargetPredictor } from '../../src/model/target-predictor.ts';
import { targetOf } from '../../src/model/targets.ts';
import { CONTEXT_FEATURES, CONTEXT_RETURNS, contextFromCloses } from '../../src/model/context-features.ts';
import { ModelMeta } from '../../src/registry/model-meta.ts';
import { folderRegistry } from '../../src/registry/folder-registry.ts';
import { decidePromotion } from '../../src/registry/promotion.ts';

const logger = pino({ level: 'silent' });
const FILE = join(REPO_ROOT, 'data', 'sample', 'candles', 'coinbase_BTCUSD_1m_lean.csv');
const segs = readCandleCsv(FILE, { pair: 'BTC/USD' }).segments;
const seg = segs.reduce((a, b) => (b.length > a.length ? b : a)).slice(0, 2400);
const tech = technicalRowsFromCandles([seg]);
const SMALL = { num_iterations: 40, early_stopping_round: 10, num_leaves: 7, min_data_in_leaf: 50 };

test('price target: the trainer gives the model text and predictions of the binding called directly', () => {
  assert.ok(lightgbm(), lightgbmUnavailableReason());
  const ds = buildDataset({ pair: 'BTC/USD', technical: tech.rows, technicalNames: tech.names, horizonS: 300 });
  const r = trainModel({ dataset: ds, kind: 'lightgbm', folds: 3, source: 'test', search: { trials: 1 }, params: SMALL });
  // Documented: the final model is fitted on every row with the search's parameters, the median
  // early-stopped round count of the folds, and no early stopping.
  assert.equal(r.meta.params.early_stopping_round, undefined);
  const params = { ...BACKENDS.lightgbm.defaultParams, ...SMALL, num_iterations: r.meta.params.num_iterations! } as Record<string, string | number | boolean>;
  delete params.early_stopping_round;
  // The label by hand from the candles: ln(close[t + 5 min] / close[t]).
  const close = new Map(seg.map((c) => [c.window_end_ms, c.close]));
  const y = Float64Array.from(ds.times, (t) => Math.log(close.get(t + 300_000)! / close.get(t)!));
  assert.deepEqual(ds.y, y);
  const req = createRequire(import.meta.url);
  const addon = req('@tickcast/lightgbm') as typeof import('@tickcast/lightgbm');
  const direct = addon.Booster.train({ x: ds.x, y, nFeatures: ds.featureNames.length, featureNames: [...ds.featureNames], params });
  assert.equal(r.regressor.modelText(), direct.modelText(), 'same model text');
  const batch = direct.predict(ds.x);
  const served = new TargetPredictor(r.meta, r.regressor.modelText());
  const k = ds.featureNames.length;
  const rowsByT = new Map(tech.rows.map((row) => [row.window_end_ms, row]));
  for (let i = 0; i < ds.rows; i += 61) {
    assert.equal(r.regressor.predict(ds.x.slice(i * k, i * k + k)), batch[i]);
    const out = served.predict(rowsByT.get(ds.times[i]!)!, null, null);
    assert.equal(out.kind, 'ok');
    if (out.kind === 'ok') assert.equal(out.values.predicted_price, ds.closes[i]! * Math.exp(batch[i]!), 'the predictor publishes close x e^output');
  }
});

for (const name of ['volatility', 'range', 'direction']) {
  test(`${name}: walk-forward against its baselines, registry meta valid, rule applied, model text round trip`, () => {
    assert.ok(lightgbm(), lightgbmUnavailableReason());
    const ds = buildDataset({ pair: 'BTC/USD', technical: tech.rows, technicalNames: tech.names, horizonS: 300, target: name });
    const target = targetOf(name);
    const r = trainTarget({ dataset: ds, folds: 3, source: 'test', now_ms: Date.parse('2024-01-02T03:04:05Z') });
    assert.ok(Value.Check(ModelMeta, r.meta), JSON.stringify([...Value.Errors(ModelMeta, r.meta)][0]));
    assert.equal(r.meta.target, name);
    const sc = r.meta.evaluation.scores!;
    for (const b of target.baselines) assert.ok(sc[b.name], `baseline ${b.name} scored`);
    assert.equal(sc.model!.n, r.folds.reduce((s, f) => s + f.test.length, 0), 'every test row of every fold');
    // The rule, recomputed plainly from the meta.
    const pm = target.primaryMetric;
    const bestBaseline = Math.min(...target.baselines.map((b) => sc[b.name]![pm]!));
    const d = decidePromotion(r.meta);
    const covOk = name !== 'range' || Math.abs(sc.model!.coverage90! - 0.9) <= 0.02;
    assert.equal(d.promote, sc.model![pm]! < bestBaseline && covOk, d.reason);
    if (name === 'range') assert.deepEqual(r.candidates.map((c) => c.params.method), ['quantile', 'quantile', 'conformal'], 'quantile (two settings) and conformal compared');
    // Baseline scores equal a recomputation from the target's own pieces over the same rows.
    const rows = r.folds.flatMap((f) => f.test);
    const b0 = target.baselines[0]!;
    const outs = r.folds.flatMap((f) => {
      const p = b0.fit(ds, f.train);
      return f.test.map((i) => {
        const o = new Float64Array(target.outputs.length);
        p(i, o);
        return o;
      });
    });
    assert.deepEqual(target.score(outs, ds, rows), Object.fromEntries(Object.entries(sc[b0.name]!).map(([k, v]) => [k, v ?? Number.NaN])));
    // Round trip through the registry text, served through the predictor's path.
    const served = new TargetPredictor(r.meta, r.model.modelText());
    const k = ds.featureNames.length;
    const byT = new Map(tech.rows.map((row) => [row.window_end_ms, row]));
    const closes = new Map(seg.map((c) => [c.window_end_ms, c.close]));
    for (let i = 0; i < ds.rows; i += 97) {
      const t = ds.times[i]!;
      const direct = r.model.predict(ds.x.slice(i * k, i * k + k), new Float64Array(target.outputs.length));
      const past = Array.from({ length: CONTEXT_RETURNS + 1 }, (_, j) => closes.get(t - (CONTEXT_RETURNS - j) * 60_000)!);
      const ctx = new Float64Array(CONTEXT_FEATURES.length);
      contextFromCloses(past, t, ctx);
      const out = served.predict(byT.get(t)!, null, ctx);
      assert.equal(out.kind, 'ok');
      if (out.kind === 'ok') assert.deepEqual(out.values, target.publish(direct, ds.closes[i]!));
    }
  });
}

test('the registry keeps one production alias per (pair, target); the price alias is unchanged', async () => {
  assert.ok(lightgbm(), lightgbmUnavailableReason());
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-targets-'));
  const registry = folderRegistry(dir);
  try {
    const r = await runTraining({ registry, pair: 'ETH/USD', source: { kind: 'file', path: join(REPO_ROOT, 'data', 'sample', 'candles', 'coinbase_ETHUSD_1m_lean.csv') }, kind: 'lightgbm', target: 'volatility', folds: 3, logger });
    const html = await readFile(join(dir, 'models', r.meta.version, 'report.html'), 'utf8');
    assert.match(html, /har_rv/);
    assert.match(html, /Predicted vs realized/);
    assert.ok(html.startsWith('<!doctype html>'));
    assert.doesNotMatch(html, /<script|https?:\/\/|<link /, 'no script, no network');
    assert.equal((html.match(/<svg /g) ?? []).length, 3, 'per-fold QLIKE, predicted vs realized, importance');
    for (const b of ['persistence', 'ewma', 'har_rv']) assert.ok(html.includes(`<td title="`) && html.includes(b), b);
    assert.equal(await registry.production('ETH/USD', 'volatility'), r.meta.status === 'production' ? r.meta.version : null);
    assert.equal(await registry.production('ETH/USD'), null, 'the price alias is another one');
    const aliases = JSON.parse(await readFile(join(dir, 'models', 'production.json'), 'utf8').catch(() => '{}')) as Record<string, unknown>;
    if (r.meta.status === 'production') assert.deepEqual(Object.keys(aliases), ['ETH/USD#volatility']);
  } finally {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the embedded bootstrap registers a version of every target for a pair (each promoted only by its rule)', async () => {
  assert.ok(lightgbm(), lightgbmUnavailableReason());
  const { bootstrapAllTargets } = await import('../../src/training/bootstrap.ts');
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-boot-all-'));
  const registry = folderRegistry(dir);
  try {
    const production = await bootstrapAllTargets({ registry, pair: 'ETH/USD', sampleDir: join(REPO_ROOT, 'data', 'sample', 'candles'), logger, trials: 1 });
    assert.deepEqual(Object.keys(production).sort(), ['direction', 'price', 'range', 'volatility']);
    const list = await registry.list('ETH/USD');
    for (const t of ['volatility', 'range', 'direction']) {
      const versions = list.filter((m) => m.target === t);
      assert.equal(versions.length, 1, `${t}: one version registered`);
      const v = versions[0]!;
      assert.equal(v.status, production[t] === v.version ? 'production' : 'rejected', v.reason);
      assert.equal(decidePromotion(v).promote, v.status === 'production');
      assert.equal(await registry.production('ETH/USD', t), production[t]);
    }
  } finally {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
});
