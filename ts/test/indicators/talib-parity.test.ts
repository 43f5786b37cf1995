// TA-Lib parity: our binding vs TA-Lib (C library from the pinned PyPI wheel,
// run by tests/oracles/talib_reference.py) on real candles, element-wise
// within 1e-9 relative error after the lookback, and the same warm-up length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FeatureSet } from '@tickcast/indicators';
import { PARITY_FILES, candleFile, talibReference } from './oracle.ts';

const REL_TOL = 1e-9;

function leadingNaN(matrix: Float64Array, width: number, col: number, rows: number): number {
  let i = 0;
  while (i < rows && Number.isNaN(matrix[i * width + col])) i++;
  return i;
}

for (const file of PARITY_FILES) {
  test(`TA-Lib parity on ${file}`, () => {
    const ref = talibReference(candleFile(file));
    const names = Object.keys(ref.series);
    assert.ok(names.length >= 60, `expected the full config list, got ${names.length}`);
    const set = new FeatureSet({ features: names });
    assert.deepEqual(set.names, names);
    const cols = {
      open: Float64Array.from(ref.columns.open),
      high: Float64Array.from(ref.columns.high),
      low: Float64Array.from(ref.columns.low),
      close: Float64Array.from(ref.columns.close),
      volume: Float64Array.from(ref.columns.volume),
    };
    const rows = ref.rows;
    const width = names.length;
    const m = set.batch(cols);
    assert.equal(m.length, rows * width);
    let compared = 0;
    let exact = 0;
    let worst = { rel: 0, name: '', row: -1 };
    names.forEach((name, j) => {
      const expected = ref.series[name]!;
      const scale = ref.scale[name] ?? 1;
      const lookback = expected.findIndex((v) => v !== null);
      assert.ok(lookback >= 0 && lookback < rows, `${name}: TA-Lib produced no value`);
      assert.equal(leadingNaN(m, width, j, rows), lookback, `${name}: warm-up length differs from TA-Lib's lookback`);
      for (let i = lookback; i < rows; i++) {
        const e = expected[i];
        assert.ok(e !== null && e !== undefined, `${name}[${i}]: TA-Lib NaN after its lookback`);
        const want = e * scale;
        const got = m[i * width + j]!;
        compared++;
        if (got === want) { exact++; continue; }
        const rel = Math.abs(got - want) / Math.max(Math.abs(want), Math.abs(got));
        if (rel > worst.rel) worst = { rel, name, row: i };
        assert.ok(rel <= REL_TOL, `${name}[${i}]: ours ${got} vs TA-Lib ${want} (relative error ${rel.toExponential(2)})`);
      }
    });
    // Each feature alone (a one-feature set: the batch kernels where there is
    // one), given only the columns it reads, into a caller's array: the same
    // bits as the column above, which matched TA-Lib.
    const colsByName: Record<string, Float64Array> = cols;
    let alone = 0;
    names.forEach((name, j) => {
      const single = new FeatureSet({ features: [name] });
      const given = Object.fromEntries(single.columnsRead.map((c) => [c, colsByName[c]!]));
      const out = new Float64Array(rows).fill(-1);
      single.batchInto({ close: cols.close, ...given }, out);
      for (let i = 0; i < rows; i++) {
        const a = out[i]!;
        const b = m[i * width + j]!;
        assert.ok(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)), `${name}[${i}] alone ${a} vs in the set ${b}`);
      }
      alone++;
    });
    assert.equal(alone, width);
    // Visible in the test output: how close, not just "within tolerance".
    console.log(`${file}: ${width} series x ${rows} rows, ${compared} values compared, ${exact} bit-identical, worst relative error ${worst.rel.toExponential(2)} (${worst.name}[${worst.row}]), TA-Lib ${ref.talib_version} / C ${ref.talib_c_version}`);
  });
}
