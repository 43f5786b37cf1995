import { test } from 'node:test';
import assert from 'node:assert/strict';
import { walkForwardFolds } from '../../src/training/walk-forward.ts';

test('folds are time ordered, test blocks do not overlap, the gap is at least the horizon', () => {
  // Minute rows with holes (a missing hour), like real data.
  const times: number[] = [];
  for (let i = 0; i < 3000; i++) if (i < 1000 || i > 1060) times.push(1_600_000_000_000 + i * 60_000);
  const horizonMs = 300_000;
  const folds = walkForwardFolds(times, { folds: 5, horizonMs, testFraction: 0.5 });
  assert.equal(folds.length, 5);
  let prevTestEnd = -Infinity;
  const seen = new Set<number>();
  for (const f of folds) {
    for (const i of f.test) {
      assert.ok(!seen.has(i), 'test rows appear in one fold only');
      seen.add(i);
    }
    const lastTrain = Math.max(...f.train.map((i) => times[i]!));
    const firstTest = Math.min(...f.test.map((i) => times[i]!));
    assert.ok(firstTest - lastTrain >= horizonMs, `gap ${firstTest - lastTrain} >= horizon`);
    assert.ok(firstTest > prevTestEnd, 'folds advance in time');
    assert.ok(f.train.every((i) => times[i]! < firstTest), 'train strictly before test');
    assert.equal(f.train_to_ms, lastTrain);
    assert.equal(f.test_from_ms, firstTest);
    for (let j = 1; j < f.test.length; j++) assert.equal(f.test[j], f.test[j - 1]! + 1, 'a test block is contiguous');
    prevTestEnd = Math.max(...f.test.map((i) => times[i]!));
  }
  // Expanding window: each fold trains on more rows than the one before.
  for (let j = 1; j < folds.length; j++) assert.ok(folds[j]!.train.length > folds[j - 1]!.train.length);
  // The rows skipped for the gap: exactly those within the horizon before the test block.
  const f0 = folds[0]!;
  const t0 = times[f0.test[0]!]!;
  const inGap = times.filter((t) => t < t0 && t0 - t < horizonMs).length;
  assert.equal(f0.train.length, f0.test[0]! - inGap);
});

test('a larger gap is honoured; unsorted times are refused', () => {
  const times = Array.from({ length: 1000 }, (_, i) => i * 60_000);
  for (const f of walkForwardFolds(times, { folds: 3, horizonMs: 300_000, gapMs: 3_600_000 })) {
    assert.ok(f.test_from_ms - f.train_to_ms >= 3_600_000);
  }
  assert.throws(() => walkForwardFolds([2, 1, 3], { horizonMs: 1 }), /increasing/);
});
