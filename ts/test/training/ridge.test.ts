import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitRidge, predictRidge } from '../../src/model/ridge.ts';

function rng(seed: number) {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}

test('with a tiny lambda, ridge recovers an exact linear relation (OLS)', () => {
  const r = rng(3);
  const n = 200;
  const x = new Float64Array(n * 3);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = r() * 10, b = r() - 0.5, c = r() * 3;
    x.set([a, b, c], i * 3);
    y[i] = 1.5 + 2 * a - 3 * b + 0.25 * c;
  }
  const m = fitRidge(x, y, ['a', 'b', 'c'], 1e-12);
  for (const row of [[1, 0, 0], [0, 1, 0], [5, -2, 7]]) {
    const want = 1.5 + 2 * row[0]! - 3 * row[1]! + 0.25 * row[2]!;
    assert.ok(Math.abs(predictRidge(m, row) - want) < 1e-6, `${row}: ${predictRidge(m, row)} vs ${want}`);
  }
});

test('ridge solution satisfies the normal equations Zᵀ(y - ŷ) = λ n β (naive recomputation)', () => {
  const r = rng(11);
  const n = 300, k = 4, lambda = 0.05;
  const x = new Float64Array(n * k);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) x[i * k + j] = r() * (j + 1) + (j === 3 ? x[i * k]! : 0);
    y[i] = x[i * k]! - x[i * k + 2]! + (r() - 0.5);
  }
  const m = fitRidge(x, y, ['a', 'b', 'c', 'd'], lambda);
  for (let j = 0; j < k; j++) {
    let g = 0;
    for (let i = 0; i < n; i++) {
      const z = (x[i * k + j]! - m.means[j]!) / m.sds[j]!;
      g += z * (y[i]! - predictRidge(m, x.subarray(i * k, i * k + k)));
    }
    assert.ok(Math.abs(g - lambda * n * m.weights[j]!) < 1e-8, `column ${j}: ${g} vs ${lambda * n * m.weights[j]!}`);
  }
  // Mean residual 0: the intercept is not penalized.
  let s = 0;
  for (let i = 0; i < n; i++) s += y[i]! - predictRidge(m, x.subarray(i * k, i * k + k));
  assert.ok(Math.abs(s / n) < 1e-10);
});

test('columns with NaN or no variance get weight 0', () => {
  const x = Float64Array.from([1, 5, NaN, 2, 5, 1, 3, 5, 2, 4, 5, 3]);
  const y = Float64Array.from([2, 4, 6, 8]);
  const m = fitRidge(x, y, ['a', 'const', 'nan'], 1e-9);
  assert.equal(m.weights[1], 0);
  assert.equal(m.weights[2], 0);
  assert.ok(Math.abs(predictRidge(m, [5, 0, NaN]) - 10) < 1e-6);
});
