/**
 * A trade source that cannot go on (here: a replay file that cannot be read)
 * makes the ingest process report the failure and exit non-zero, so that its
 * orchestrator restarts it, instead of staying alive and "ready" with nothing
 * flowing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { cleanEnv } from '../fixtures/env.ts';

test('ingest whose trade source fails exits with status 1 after logging why', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-ingest-fail-'));
  try {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/tickcast.js'), 'run', 'ingest'], {
      cwd: REPO_ROOT,
      env: cleanEnv({
        TICKCAST_DATA_DIR: dir,
        TICKCAST_HTTP_HOST: '127.0.0.1',
        TICKCAST_HTTP_PORT: '0',
        TICKCAST_INGEST_SOURCE: 'replay',
        TICKCAST_REPLAY_FILES: join(dir, 'no-such-trades.csv'),
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const msgs = out
      .split('\n')
      .flatMap((l) => {
        try {
          return [(JSON.parse(l) as { msg?: string }).msg ?? ''];
        } catch {
          return [];
        }
      });
    assert.ok(msgs.includes('ready'), `the process started (${out.slice(-2000)})`);
    assert.ok(msgs.includes('trade source failed'), 'the failure is logged');
    assert.ok(msgs.includes('exiting with status 1: a service could not go on'), 'and why it exits');
    assert.equal(code, 1, out.slice(-2000));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
