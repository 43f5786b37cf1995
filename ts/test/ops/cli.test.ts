/**
 * The `tickcast` command as a user runs it (bin/tickcast.js through tsx):
 * --help everywhere, configuration errors, redacted `config`, and a real
 * `run heartbeat` process that serves its endpoints and exits 0 on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../fixtures/env.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/tickcast.js');

/** The environment without any TICKCAST_* setting of the caller, plus `extra`. */
function tickcast(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv(extra), encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help works on the command and on every subcommand', () => {
  for (const args of [['--help'], ['run', '--help'], ['topics', '--help'], ['topics', 'create', '--help'], ['config', '--help']]) {
    const r = tickcast(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: tickcast/m, args.join(' '));
  }
  assert.match(tickcast(['run', '--help']).stdout, /heartbeat/, 'run --help lists the services');
  assert.match(tickcast(['config', '--help']).stdout, /TICKCAST_KAFKA_PARTITIONS: an integer from 1 to 1000 \(default 3\)/);
});

test('config prints the validated configuration with secrets redacted', () => {
  const r = tickcast(['config'], {
    TICKCAST_PAIRS: 'BTC/USD,SOL/USD',
    TICKCAST_ES_PASSWORD: 's3cr3t-value-1',
    TICKCAST_ES_USERNAME: 'elastic',
    TICKCAST_ALERT_WEBHOOK_URL: 'https://hooks.example.com/s3cr3t-value-2',
  });
  assert.equal(r.code, 0, r.stderr);
  const shown = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(shown.TICKCAST_PAIRS, ['BTC/USD', 'SOL/USD']);
  assert.equal(shown.TICKCAST_ES_PASSWORD, '[redacted]');
  assert.ok(!r.stdout.includes('s3cr3t'), 'no secret in the output');
});

test('a bad variable stops the command with exit code 2 and a message naming it', () => {
  const r = tickcast(['config'], { TICKCAST_HTTP_PORT: 'http' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /TICKCAST_HTTP_PORT: expected a TCP port from 0 to 65535 \(0 = any free port\); got "http"/);
  const run = tickcast(['run', 'heartbeat'], { TICKCAST_MODE: 'production' });
  assert.equal(run.code, 2, 'run refuses to start on a bad configuration');
  assert.match(run.stderr, /TICKCAST_KAFKA_BROKERS is required/);
});

test('run refuses unknown services with exit code 2', () => {
  const r = tickcast(['run', 'nope'], { TICKCAST_HTTP_PORT: '0' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown service\(s\): nope; known: .*heartbeat/);
});

test('topics create needs Kafka brokers', () => {
  const r = tickcast(['topics', 'create']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /TICKCAST_KAFKA_BROKERS is not set/);
});

test('run heartbeat: serves /healthz /readyz /metrics, logs JSON without secrets, exits 0 on SIGTERM', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tickcast-cli-'));
  const child = spawn(process.execPath, [BIN, 'run', 'heartbeat'], {
    cwd: ROOT,
    env: cleanEnv({ TICKCAST_HTTP_PORT: '0', TICKCAST_HTTP_HOST: '127.0.0.1', TICKCAST_DATA_DIR: dataDir, TICKCAST_ES_PASSWORD: 'pw-never-logged', TICKCAST_ES_USERNAME: 'u' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let raw = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      raw += `${line}\n`;
      const entry = JSON.parse(line) as Record<string, unknown>; // every line is JSON
      lines.push(entry);
      if (entry.msg === 'ready') resolve(String(entry.ops));
    });
    void exited.then(({ code }) => reject(new Error(`exited early with ${code}: ${stderr}`)));
  });
  try {
    const url = await ready;
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const readyz = await fetch(`${url}/readyz`);
    assert.equal(readyz.status, 200);
    assert.deepEqual(await readyz.json(), { ready: true, checks: { bus: true, services: true } });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^tickcast_service_up\{service="heartbeat"\} 1$/m);
    assert.match(metrics, /^tickcast_heartbeat_timestamp_seconds \d+/m);
    assert.match(metrics, /^tickcast_process_cpu_user_seconds_total /m, 'process metrics');
  } finally {
    child.kill('SIGTERM');
  }
  const { code } = await exited;
  assert.equal(code, 0, `graceful exit; stderr: ${stderr}`);
  const msgs = lines.map((l) => l.msg);
  for (const m of ['starting', 'bus connected', 'service started', 'ready', 'shutting down', 'service stopped', 'bus closed', 'shutdown complete']) {
    assert.ok(msgs.includes(m), `log has "${m}": ${msgs.join(' | ')}`);
  }
  assert.ok(msgs.indexOf('service stopped') < msgs.indexOf('bus closed'), 'services stop before the bus closes');
  assert.ok(!raw.includes('pw-never-logged'), 'the password never reaches the log');
});
