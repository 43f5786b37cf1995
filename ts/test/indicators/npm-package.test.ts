// The npm package works on its own: `npm pack` the addon package, install the
// tarball into a fresh project outside the repo (offline: the package has no
// dependencies), and compute an RSI from plain JavaScript (CommonJS and ESM),
// checked against a naive Wilder RSI written here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './oracle.ts';

const PKG_DIR = join(REPO_ROOT, 'crates', 'indicators', 'node');

/** Wilder RSI: SMA-seeded average gain/loss, then (avg*(n-1)+x)/n. */
function naiveRsi(closes: number[], n: number): number[] {
  const out: number[] = closes.map(() => NaN);
  let gain = 0;
  let loss = 0;
  for (let i = 1; i < closes.length; i++) {
    const change = closes[i]! - closes[i - 1]!;
    const up = change > 0 ? change : 0;
    const down = change < 0 ? -change : 0;
    if (i <= n) {
      gain += up / n;
      loss += down / n;
      if (i < n) continue;
    } else {
      gain = (gain * (n - 1) + up) / n;
      loss = (loss * (n - 1) + down) / n;
    }
    out[i] = gain + loss === 0 ? 0 : (100 * gain) / (gain + loss);
  }
  return out;
}

test('npm pack + install in a fresh project, RSI from CommonJS and ESM', () => {
  const addon = readdirSync(PKG_DIR).filter((f) => f.endsWith('.node'));
  assert.ok(addon.length > 0, 'no .node addon in crates/indicators/node: run `npm run build -w @tickcast/indicators` (or `make addons`)');

  const work = mkdtempSync(join(tmpdir(), 'tickcast-npm-'));
  const packed = execFileSync('npm', ['pack', PKG_DIR, '--pack-destination', work, '--json'], { cwd: work, encoding: 'utf8' });
  const info = JSON.parse(packed) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, info[0]!.filename);
  const files = info[0]!.files.map((f) => f.path).sort();
  assert.ok(files.includes('index.js') && files.includes('index.d.ts') && files.some((f) => f.endsWith('.node')), `packed files: ${files.join(', ')}`);

  const project = join(work, 'consumer');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  execFileSync('npm', ['install', tarball, '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project, stdio: 'pipe' });
  assert.ok(existsSync(join(project, 'node_modules', '@tickcast', 'indicators', 'index.js')));

  const closes = Array.from({ length: 60 }, (_, i) => 100 + 10 * Math.sin(i / 3) + (i % 7) * 0.5);
  const script = (kind: 'cjs' | 'esm') => `
    ${kind === 'cjs' ? "const { FeatureSet } = require('@tickcast/indicators');" : "import { FeatureSet } from '@tickcast/indicators';"}
    const closes = ${JSON.stringify(closes)};
    const set = new FeatureSet({ features: ['rsi_14'] });
    const rsi = closes.map((c) => set.update({ open: c, high: c, low: c, close: c, volume: 1 })[0]);
    console.log(JSON.stringify(rsi.map((v) => (Number.isNaN(v) ? null : v))));
  `;
  writeFileSync(join(project, 'rsi.cjs'), script('cjs'));
  writeFileSync(join(project, 'rsi.mjs'), script('esm'));
  const expected = naiveRsi(closes, 14);
  for (const file of ['rsi.cjs', 'rsi.mjs']) {
    const got = JSON.parse(execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' })) as (number | null)[];
    assert.equal(got.length, closes.length);
    got.forEach((v, i) => {
      const e = expected[i]!;
      if (Number.isNaN(e)) assert.equal(v, null, `${file}: RSI[${i}] should still be warming up`);
      else assert.ok(v !== null && Math.abs(v - e) <= 1e-9 * Math.max(1, Math.abs(e)), `${file}: RSI[${i}] ${v} vs naive ${e}`);
    });
  }
});
