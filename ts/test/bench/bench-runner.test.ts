/**
 * `make bench` runs `bench/run.ts`; its dry run (`--list`) names the programs it would run.
 * They must be exactly the benchmark programs: the files of bench/ whose text exports
 * `run()` (found here by reading the files, not by the runner's name filter), so a type
 * declaration or a helper is never run as a benchmark and no benchmark is left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { cleanEnv } from '../fixtures/env.ts';

const BENCH = join(REPO_ROOT, 'bench');

function runner(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(BENCH, 'run.ts'), ...args], { cwd: REPO_ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Files directly in bench/ that export an async run(): the benchmark programs. */
function programsByContent(): string[] {
  return readdirSync(BENCH)
    .filter((f) => statSync(join(BENCH, f)).isFile())
    .filter((f) => /^export async function run\(/m.test(readFileSync(join(BENCH, f), 'utf8')))
    .map((f) => `bench/${f}`)
    .sort();
}

test('bench/run.ts --list names exactly the benchmark programs, and runs nothing', () => {
  const expected = programsByContent();
  assert.ok(expected.length >= 5, `bench/ has its programs: ${expected.join(', ')}`);
  const r = runner(['--list']);
  assert.equal(r.code, 0, r.stderr);
  const listed = r.stdout.trim().split('\n');
  assert.deepEqual(listed, expected);
  assert.ok(!listed.some((l) => l.endsWith('.d.ts')), 'no declaration file');
  assert.doesNotMatch(r.stdout, /===/, 'a dry run starts no benchmark');
});

test('bench/run.ts --list with names: only those; an unknown name is an error (exit 2)', () => {
  const r = runner(['--list', 'indicators', 'aggregator']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['bench/aggregator.ts', 'bench/indicators.ts']);
  const bad = runner(['--list', 'autocannon.d']);
  assert.equal(bad.code, 2);
  const known = programsByContent().map((p) => p.replace(/^bench\/(.*)\.ts$/, '$1')).join(', ');
  assert.ok(bad.stderr.includes(`unknown benchmark(s): autocannon.d; known: ${known}`), bad.stderr);
});
