// The LightGBM model kind through the Regressor interface (needs the
// @tickcast/lightgbm binding built): a small walk-forward run on real
// candles, save/load through the registry text, fast single-row predict
// equal to batch predict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { trainModel } from '../../src/training/trainer.ts';
import { lightgbm, lightgbmUnavailableReason, loadRegressor } from '../../src/model/backends.ts';

test('lightgbm: walk-forward run, early-stopped folds, model text round trip, fast == batch', () => {
  assert.ok(lightgbm(), lightgbmUnavailableReason());
  const segs = readCandleCsv(join(REPO_ROOT, 'data', 'sample', 'candles', 'coinbase_ETHUSD_1m_lean.csv'), { pair: 'ETH/USD' }).segments;
  const { names, rows } = technicalRowsFromCandles([segs[0]!.slice(0, 1500)]);
  const ds = buildDataset({ pair: 'ETH/USD', technical: rows, technicalNames: names });
  const r = trainModel({
    dataset: ds, kind: 'lightgbm', folds: 3, source: 'test', search: { trials: 1 },
    params: { num_iterations: 40, early_stopping_round: 10, num_leaves: 7, min_data_in_leaf: 50 },
  });
  assert.equal(r.meta.kind, 'lightgbm');
  assert.ok(r.meta.evaluation.folds.every((f) => f.iterations !== null && f.iterations >= 1 && f.iterations <= 40));
  assert.ok(r.meta.params.num_iterations! as number <= 40);
  assert.equal(r.meta.params.early_stopping_round, undefined, 'the final model has a fixed round count');
  assert.match(r.meta.library_versions.lightgbm ?? '', /^\d+\.\d+/);
  const text = r.regressor.modelText();
  const loaded = loadRegressor('lightgbm', text, r.meta.feature_names);
  const batch = loaded.predictBatch(ds.x);
  const k = ds.featureNames.length;
  for (let i = 0; i < ds.rows; i += 97) {
    const row = ds.x.slice(i * k, i * k + k);
    assert.equal(loaded.predict(row), batch[i], `row ${i}: fast single-row == batch`);
    assert.equal(r.regressor.predict(row), batch[i], `row ${i}: loaded == trained`);
  }
  assert.equal(r.regressor.importance().length, k);
});
