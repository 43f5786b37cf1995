// A whole training run on real candles (Coinbase ETH-USD 1-minute, bundled
// sample) with the ridge model (fast, no native binding needed): folds,
// baselines, registry meta, report, bootstrap and the promotion rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { trainModel } from '../../src/training/trainer.ts';
import { priceMetrics } from '../../src/model/price-metrics.ts';
import { renderReport } from '../../src/training/report-html.ts';
import { folderRegistry } from '../../src/registry/folder-registry.ts';
import { bootstrapModel } from '../../src/training/bootstrap.ts';
import { runTraining } from '../../src/training/training-run.ts';
import { ModelMeta } from '../../src/registry/model-meta.ts';
import { Value } from '../../src/contracts/typebox.ts';

const SAMPLE = join(REPO_ROOT, 'data', 'sample', 'candles');
const logger = pino({ level: 'silent' });
const segs = readCandleCsv(join(SAMPLE, 'coinbase_ETHUSD_1m_lean.csv'), { pair: 'ETH/USD' }).segments;
const { names, rows } = technicalRowsFromCandles([segs[0]!.slice(0, 1500)]);
const ds = buildDataset({ pair: 'ETH/USD', technical: rows, technicalNames: names, horizonS: 300 });

test('walk-forward run: persistence metrics equal an independent recomputation; meta is complete and valid', () => {
  const r = trainModel({ dataset: ds, kind: 'ridge', folds: 3, source: 'test', now_ms: Date.parse('2024-01-02T03:04:05Z') });
  assert.equal(r.meta.evaluation.folds.length, 3);
  assert.ok(Value.Check(ModelMeta, r.meta), JSON.stringify([...Value.Errors(ModelMeta, r.meta)][0]));
  // Persistence on every test row, recomputed from the dataset directly.
  const testRows = r.folds.flatMap((f) => f.test);
  const pers = priceMetrics(testRows.map((i) => ds.closes[i]!), testRows.map((i) => ds.futureCloses[i]!), testRows.map((i) => ds.closes[i]!));
  assert.equal(r.meta.evaluation.overall.persistence!.rmse, pers.rmse);
  assert.equal(r.meta.evaluation.overall.persistence!.n, testRows.length);
  assert.equal(r.meta.version, `ethusd-ridge-20240102t030405z-${r.meta.data.sha256.slice(0, 8)}`);
  assert.deepEqual(r.meta.feature_names, names);
  assert.equal(r.meta.data.rows, ds.rows);
  assert.equal(r.meta.data.from_ms, ds.times[0]);
  assert.match(r.meta.code_commit, /^([0-9a-f]{40}|unknown)$/);
  // Same data, same model: deterministic.
  const again = trainModel({ dataset: ds, kind: 'ridge', folds: 3, source: 'test', now_ms: 1 });
  assert.equal(again.meta.data.sha256, r.meta.data.sha256);
  assert.deepEqual(again.meta.evaluation.overall, r.meta.evaluation.overall);
});

test('the report is one self-contained HTML page with the plots and the fold table', () => {
  const r = trainModel({ dataset: ds, kind: 'ridge', folds: 3, source: 'test' });
  const html = renderReport({ meta: r.meta, evaluation: r.evaluation, importance: r.regressor.importance() });
  assert.ok(html.startsWith('<!doctype html>'));
  assert.equal((html.match(/<svg /g) ?? []).length, 4, 'fold RMSE, predicted vs actual, residuals, importance');
  assert.doesNotMatch(html, /<script|https?:\/\/|<link /, 'no script, no network');
  assert.match(html, /persistence/);
  for (const f of r.meta.evaluation.folds) assert.ok(html.includes(new Date(f.test_from_ms).toISOString().replace('.000Z', 'Z')));
});

test('the current production model is re-evaluated on the same folds; the rule decides', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-train-'));
  const registry = folderRegistry(dir);
  try {
    const file = join(SAMPLE, 'coinbase_ETHUSD_1m_lean.csv');
    const first = await runTraining({ registry, pair: 'ETH/USD', source: { kind: 'file', path: file }, kind: 'ridge', folds: 3, logger });
    assert.equal(first.meta.evaluation.compared_with, null);
    const o = first.meta.evaluation.overall;
    assert.equal(first.meta.status, o.model!.rmse < o.persistence!.rmse ? 'production' : 'rejected', first.meta.reason);
    assert.ok((await readFile(join(dir, 'models', first.meta.version, 'report.html'), 'utf8')).includes(first.meta.version));
    if (first.meta.status === 'production') {
      // Same data and parameters again: the current model refitted on the same folds scores the same, so no promotion.
      await new Promise((r) => setTimeout(r, 5));
      const second = await runTraining({ registry, pair: 'ETH/USD', source: { kind: 'file', path: file }, kind: 'ridge', folds: 3, logger });
      assert.equal(second.meta.evaluation.compared_with, first.meta.version);
      assert.ok(second.result!.evaluation.folds.every((f) => f.current_mode === 'refit'), 'the saved model saw these rows: refitted');
      assert.equal(second.meta.evaluation.overall.current!.rmse, second.meta.evaluation.overall.model!.rmse);
      assert.equal(second.meta.status, 'rejected');
      assert.match(second.meta.reason, /does not beat the current production model/);
      assert.equal(await registry.production('ETH/USD'), first.meta.version);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bootstrap trains from the bundled sample only when the pair has no production model', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-boot-'));
  const registry = folderRegistry(dir);
  try {
    const out = await bootstrapModel({ registry, pair: 'ETH/USD', sampleDir: SAMPLE, logger, trials: 1 });
    assert.equal(out.kind, 'trained');
    if (out.kind !== 'trained') return;
    assert.ok(out.runs.length >= 1);
    for (const r of out.runs) assert.match(r.meta.data.source, /coinbase_ETHUSD_1m_lean\.csv$/);
    const prod = await registry.production('ETH/USD');
    assert.equal(out.production, prod);
    if (prod) {
      const again = await bootstrapModel({ registry, pair: 'ETH/USD', sampleDir: SAMPLE, logger });
      assert.deepEqual(again, { kind: 'exists', version: prod });
    }
    const none = await bootstrapModel({ registry, pair: 'SOL/USD', sampleDir: SAMPLE, logger });
    assert.equal(none.kind, 'no_data');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
