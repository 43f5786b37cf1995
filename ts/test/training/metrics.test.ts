import { test } from 'node:test';
import assert from 'node:assert/strict';
import { priceMetrics } from '../../src/model/price-metrics.ts';

test('MAE, RMSE, MAPE and directional accuracy against values computed by hand', () => {
  // last:      100, 100, 200, 50
  // actual:    110,  90, 200, 40   (moves: up, down, none, down)
  // predicted: 105, 104, 190, 50   (moves: up, up,  down, none)
  const m = priceMetrics([105, 104, 190, 50], [110, 90, 200, 40], [100, 100, 200, 50]);
  // errors: -5, 14, -10, 10 -> |e| = 5, 14, 10, 10
  assert.equal(m.n, 4);
  assert.equal(m.mae, 39 / 4);
  assert.equal(m.rmse, Math.sqrt((25 + 196 + 100 + 100) / 4));
  // |e|/actual = 5/110, 14/90, 10/200, 10/40
  assert.ok(Math.abs(m.mape - ((5 / 110 + 14 / 90 + 10 / 200 + 10 / 40) / 4) * 100) < 1e-12);
  // moved rows: 1 (right), 2 (wrong), 4 (no predicted move: 1/2) -> 1.5 / 3
  assert.equal(m.directional_accuracy, 0.5);
});

test('persistence has zero-move predictions: directional accuracy 1/2; nothing moved: NaN', () => {
  const m = priceMetrics([100, 100], [101, 99], [100, 100]);
  assert.equal(m.directional_accuracy, 0.5);
  assert.equal(m.mae, 1);
  assert.ok(Number.isNaN(priceMetrics([1], [1], [1]).directional_accuracy));
  assert.throws(() => priceMetrics([1], [1, 2], [1, 2]), RangeError);
});
