// bench/coverage.ts's resolution, against hand-made cases: a close inside both intervals, inside the 90% one
// only, outside both, exactly on a bound (covered), a target minute with no close (not counted), a message
// without a range (ignored); and the CSV reader it resolves with (FTX and Coinbase time formats).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Prediction } from '../../src/contracts/messages.ts';
import { csvCloses, resolveCoverage } from '../../../bench/coverage.ts';

const T = Date.UTC(2022, 0, 3, 12, 0);
function pred(i: number, band: [number, number, number, number] | null): Prediction {
  const base = { pair: 'BTC/USD', made_at_ms: T + i * 60_000, target_ms: T + i * 60_000 + 300_000, horizon_s: 300, last_close: 100, model_name: 'm', model_version: 'v' };
  if (!band) return base;
  const [lo90, lo80, hi80, hi90] = band;
  // Quantiles chosen so the model's own bands are 99..101 (80%) and 98..102 (90%).
  return { ...base, range: { q05: Math.log(0.98), q10: Math.log(0.99), q50: 0, q90: Math.log(1.01), q95: Math.log(1.02), lo80, hi80, lo90, hi90, calibrated: true, m80: 1, m90: 1, model_version: 'v' } };
}

test('coverage: hits, misses, bounds, missing closes and messages without a range', () => {
  const preds = [pred(0, [97, 98, 102, 103]), pred(1, [97, 98, 102, 103]), pred(2, [97, 98, 102, 103]), pred(3, [97, 98, 102, 103]), pred(4, [97, 98, 102, 103]), pred(5, null)];
  const closes = new Map<number, number>([
    [preds[0]!.target_ms, 100], // in both; model bands: both
    [preds[1]!.target_ms, 102.5], // 90% only; model bands: neither
    [preds[2]!.target_ms, 104], // neither
    [preds[3]!.target_ms, 97], // on the 90% bound: covered; 80%: no
    // preds[4]: no close at its target
    [preds[5]!.target_ms, 100],
  ]);
  const c = resolveCoverage(preds, (t) => closes.get(t));
  assert.equal(c.n, 4);
  assert.equal(c.unresolved, 1);
  assert.equal(c.hit80, 1);
  assert.equal(c.hit90, 3);
  assert.equal(c.rawHit80, 1);
  assert.equal(c.rawHit90, 1);
  assert.deepEqual([...c.days.values()], [{ n: 4, hit: 3 }]);
});

test('coverage: the CSV closes by window end, both time formats', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-cov-'));
  try {
    writeFileSync(join(dir, 'ftx.csv'), 'timestamp,open,high,low,close,volume\n2021-12-31 23:01:00.000000,1,1,1,46377.0,5\n2021-12-31 23:02:00.000000,1,1,1,46411.5,5\n');
    writeFileSync(join(dir, 'cb.csv'), 'date,ms_since_midnight,time_utc,open,high,low,close,volume,source_file\n20170903,0,2017-09-03T00:00:00Z,1,1,1,354.84,50,x\n');
    const f = csvCloses(join(dir, 'ftx.csv'));
    assert.equal(f.get(Date.UTC(2021, 11, 31, 23, 2)), 46377);
    assert.equal(f.get(Date.UTC(2021, 11, 31, 23, 3)), 46411.5);
    assert.equal(f.size, 2);
    assert.equal(csvCloses(join(dir, 'cb.csv')).get(Date.UTC(2017, 8, 3, 0, 1)), 354.84);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
