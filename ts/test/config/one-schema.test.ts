/**
 * One configuration schema (issue 14): the API's settings, the LLM timeout
 * and prices and Kibana's URL are validated and listed by `tickcast config`
 * like every other variable, so a wrong value stops the process before any
 * service starts; no module reads a TICKCAST_ variable around the schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadConfig, redactConfig, ConfigError, ENV_NAMES, type Config } from '../../src/config/config.ts';
import { REDACTED } from '../../src/config/redact.ts';
import { cleanEnv } from '../fixtures/env.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';

const BIN = join(REPO_ROOT, 'bin/tickcast.js');
const cli = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [BIN, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 60_000, cwd: REPO_ROOT });

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

const MOVED = [
  'TICKCAST_API_HOST',
  'TICKCAST_API_PORT',
  'TICKCAST_API_KEYS',
  'TICKCAST_API_RATE_LIMIT',
  'TICKCAST_API_STALE_AFTER_MS',
  'TICKCAST_API_TRUST_PROXY',
  'TICKCAST_API_CORS_ORIGINS',
  'TICKCAST_API_CURSOR_SECRET',
  'TICKCAST_LLM_TIMEOUT_MS',
  'TICKCAST_LLM_PRICE_PROMPT_PER_MTOK',
  'TICKCAST_LLM_PRICE_COMPLETION_PER_MTOK',
  'TICKCAST_KIBANA_URL',
];

test('the API, LLM and Kibana variables are in the one schema', () => {
  const names = new Set(Object.values(ENV_NAMES));
  for (const v of MOVED) assert.ok(names.has(v), `${v} is not in the config schema`);
});

test('their defaults, and their values converted from text', () => {
  const d = loadConfig({ env: {} }) as Config & Record<string, unknown>;
  assert.equal(d.apiPort, 8000);
  assert.equal(d.apiRateLimit, 600);
  assert.equal(d.apiStaleAfterMs, 180_000);
  assert.deepEqual(d.apiKeys, []);
  assert.deepEqual(d.apiCorsOrigins, []);
  assert.deepEqual(d.apiTrustProxy, []);
  assert.equal(d.llmTimeoutMs, 30_000);
  assert.equal(d.llmPricePromptPerMTok, 0);
  const c = loadConfig({
    env: {
      TICKCAST_API_KEYS: 'abcdefgh12, ijklmnop34',
      TICKCAST_API_PORT: '9000',
      TICKCAST_API_CORS_ORIGINS: 'https://app.example.com',
      TICKCAST_API_TRUST_PROXY: '10.0.0.0/8,127.0.0.1',
      TICKCAST_LLM_TIMEOUT_MS: '5000',
      TICKCAST_LLM_PRICE_COMPLETION_PER_MTOK: '0.6',
    },
  }) as Config & Record<string, unknown>;
  assert.deepEqual(c.apiKeys, ['abcdefgh12', 'ijklmnop34']);
  assert.equal(c.apiPort, 9000);
  assert.deepEqual(c.apiCorsOrigins, ['https://app.example.com']);
  assert.deepEqual(c.apiTrustProxy, ['10.0.0.0/8', '127.0.0.1']);
  assert.equal(c.llmTimeoutMs, 5000);
  assert.equal(c.llmPriceCompletionPerMTok, 0.6);
  assert.equal(redactConfig(c).TICKCAST_API_KEYS, REDACTED, 'API keys are secrets');
});

test('a wrong value names the variable and the expected form', () => {
  const cases: [string, string, RegExp][] = [
    ['TICKCAST_API_KEYS', 'somekey', /^TICKCAST_API_KEYS: expected .*keys of 8 to 256 printable characters.*; got \[redacted\]/],
    ['TICKCAST_API_PORT', 'eighty', /^TICKCAST_API_PORT: expected a TCP port/],
    ['TICKCAST_API_PORT', '70000', /^TICKCAST_API_PORT: expected a TCP port/],
    ['TICKCAST_API_RATE_LIMIT', '-1', /^TICKCAST_API_RATE_LIMIT: expected/],
    ['TICKCAST_API_STALE_AFTER_MS', '5', /^TICKCAST_API_STALE_AFTER_MS: expected milliseconds/],
    ['TICKCAST_API_CORS_ORIGINS', 'app.example.com', /^TICKCAST_API_CORS_ORIGINS: expected/],
    ['TICKCAST_API_CORS_ORIGINS', '*', /^TICKCAST_API_CORS_ORIGINS: expected/],
    ['TICKCAST_API_TRUST_PROXY', 'everyone', /^TICKCAST_API_TRUST_PROXY: expected/],
    ['TICKCAST_API_CURSOR_SECRET', 'short', /^TICKCAST_API_CURSOR_SECRET: expected .*; got \[redacted\]/],
    ['TICKCAST_LLM_TIMEOUT_MS', 'soon', /^TICKCAST_LLM_TIMEOUT_MS: expected milliseconds/],
    ['TICKCAST_LLM_PRICE_PROMPT_PER_MTOK', '-3', /^TICKCAST_LLM_PRICE_PROMPT_PER_MTOK: expected/],
    ['TICKCAST_KIBANA_URL', 'kibana:5601', /^TICKCAST_KIBANA_URL: expected/],
  ];
  for (const [name, value, want] of cases) {
    const problems = problemsOf({ [name]: value });
    assert.equal(problems.length, 1, `${name}=${value}: ${problems.join(' | ')}`);
    assert.match(problems[0] as string, want, `${name}=${value}`);
  }
  assert.ok(!problemsOf({ TICKCAST_API_CURSOR_SECRET: 'short-secret-value' }).join('').includes('short-secret-value'), 'a secret is not echoed');
});

test('`tickcast config` fails (exit 2) on a key that is too short, and lists every moved variable', () => {
  const bad = cli(['config'], { TICKCAST_API_KEYS: 'somekey' });
  assert.equal(bad.status, 2, `exit ${bad.status}: ${bad.stdout}${bad.stderr}`);
  assert.match(bad.stderr, /TICKCAST_API_KEYS/);
  assert.ok(!bad.stderr.includes('somekey'), 'the key is not echoed');
  const ok = cli(['config'], { TICKCAST_API_KEYS: 'a-good-key-123', TICKCAST_API_PORT: '9001' });
  assert.equal(ok.status, 0, ok.stderr);
  const shown = JSON.parse(ok.stdout) as Record<string, unknown>;
  assert.equal(shown.TICKCAST_API_PORT, 9001);
  assert.equal(shown.TICKCAST_API_KEYS, REDACTED);
  const help = cli(['config', '--help'], {});
  assert.equal(help.status, 0);
  for (const v of MOVED) assert.match(help.stdout, new RegExp(`\\b${v}\\b`), `${v} in tickcast config --help`);
});

test('no module reads the environment around the schema (only ts/src/config/config.ts does)', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(join(REPO_ROOT, 'ts/src'));
  const known = new Set([...Object.values(ENV_NAMES), 'TICKCAST_CONFIG']);
  const found: string[] = [];
  for (const f of files) {
    const rel = relative(REPO_ROOT, f);
    if (rel === 'ts/src/config/config.ts') continue;
    const text = readFileSync(f, 'utf8');
    // Code, not comments.
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
    if (/process\.env\b/.test(code)) found.push(`${rel}: reads process.env`);
    for (const m of code.matchAll(/\benv(?:\.|\[\s*['"`])(TICKCAST_[A-Z0-9_]+)/g)) found.push(`${rel}: reads ${m[1]} from an environment object`);
    for (const m of code.matchAll(/['"`](TICKCAST_[A-Z0-9_]+)['"`]/g)) {
      if (!known.has(m[1] as string)) found.push(`${rel}: names ${m[1]}, which is not a config variable`);
    }
  }
  assert.deepEqual(found, []);
});
