/**
 * Logs are readable on a terminal and JSON lines otherwise: the format is chosen from
 * stdout (logFormatFor), and a real `tickcast run heartbeat` under a pseudo-terminal
 * (util-linux `script`) prints pino-pretty lines, redacted, while the same command with
 * stdout on a pipe prints one JSON object per line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logFormatFor } from '../../src/ops/logger.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { cleanEnv } from '../fixtures/env.ts';

const BIN = join(REPO_ROOT, 'bin/tickcast.js');
const SECRET = 'pw-never-logged-tty';
// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');

test('logFormatFor: pretty on a terminal, JSON otherwise', () => {
  assert.equal(logFormatFor({ isTTY: true }), 'pretty');
  assert.equal(logFormatFor({ isTTY: false }), 'json');
  assert.equal(logFormatFor({}), 'json', 'a pipe or a file has no isTTY');
});

/** Runs `tickcast run heartbeat` (stdout a pseudo-terminal when tty), until its "ready" line; then SIGTERM. */
async function runUntilReady(tty: boolean): Promise<{ out: string; code: number | null }> {
  const env = cleanEnv({ TICKCAST_HTTP_PORT: '0', TICKCAST_HTTP_HOST: '127.0.0.1', TICKCAST_DATA_DIR: mkdtempSync(join(tmpdir(), 'tickcast-tty-')), TICKCAST_ES_PASSWORD: SECRET, TICKCAST_ES_USERNAME: 'u' });
  const cmd = `'${process.execPath}' '${BIN}' run heartbeat`;
  const child = tty
    ? spawn('script', ['-qefc', cmd, '/dev/null'], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
    : spawn(process.execPath, [BIN, 'run', 'heartbeat'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "ready" line within 60 s: ${out.slice(-2000)}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/\bready\b/.test(stripAnsi(out).split('\n').filter((l) => !l.startsWith(' ')).join('\n'))) {
        clearTimeout(t);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`exited (${code}) before "ready": ${out.slice(-2000)}`)));
  });
  process.kill(-child.pid!, 'SIGTERM');
  const code = await exited;
  return { out, code };
}

test('tickcast run heartbeat on a terminal: readable lines (time, level, message), no JSON, secrets redacted', { timeout: 120_000 }, async () => {
  const { out } = await runUntilReady(true);
  const lines = stripAnsi(out).split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.some((l) => /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO \(tickcast\): starting$/.test(l)), `a pretty "starting" line:\n${lines.slice(0, 5).join('\n')}`);
  assert.ok(lines.some((l) => /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO \(tickcast\): ready$/.test(l)), 'a pretty "ready" line');
  assert.ok(!lines.some((l) => l.startsWith('{"level"')), 'no JSON line on a terminal');
  assert.ok(/\x1b\[/.test(out), 'colored');
  assert.ok(!out.includes(SECRET), 'the password never reaches the terminal');
});

test('tickcast run heartbeat with stdout on a pipe: one JSON object per line', { timeout: 120_000 }, async () => {
  const { out } = await runUntilReady(false);
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length >= 3);
  for (const l of lines) assert.equal(typeof (JSON.parse(l) as { msg: unknown }).msg, 'string', l);
  assert.ok(!out.includes(SECRET));
});
