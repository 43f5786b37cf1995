/**
 * Configuration: defaults, mode-dependent backends, a wrong or missing value
 * names its variable and the expected form, the optional JSON file, and secrets
 * never shown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, redactConfig, ConfigError, ENV_NAMES } from '../../src/config/config.ts';
import { redactSecrets, REDACTED } from '../../src/config/redact.ts';
import { createLogger } from '../../src/ops/logger.ts';

const load = (env: Record<string, string>) => loadConfig({ env });

function problemsOf(env: Record<string, string>, file?: string): string[] {
  try {
    loadConfig(file ? { env, file } : { env });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

test('defaults: embedded mode, in-process bus, SQLite, BTC/USD and ETH/USD, port 8080', () => {
  const c = load({});
  assert.equal(c.mode, 'embedded');
  assert.equal(c.bus, 'memory');
  assert.equal(c.store, 'sqlite');
  assert.equal(c.dataDir, './.tickcast');
  assert.deepEqual(c.pairs, ['BTC/USD', 'ETH/USD']);
  assert.equal(c.httpPort, 8080);
  assert.equal(c.kafkaPartitions, 3);
  assert.equal(c.logLevel, 'info');
});

test('values are converted from text: numbers, comma lists with spaces', () => {
  const c = load({
    TICKCAST_PAIRS: ' BTC/USD , SOL/EUR ',
    TICKCAST_HTTP_PORT: '0',
    TICKCAST_KAFKA_PARTITIONS: '12',
    TICKCAST_KAFKA_BROKERS: '127.0.0.1:39092,kafka-1.internal:9092',
  });
  assert.deepEqual(c.pairs, ['BTC/USD', 'SOL/EUR']);
  assert.equal(c.httpPort, 0);
  assert.equal(c.kafkaPartitions, 12);
  assert.deepEqual(c.kafkaBrokers, ['127.0.0.1:39092', 'kafka-1.internal:9092']);
});

test('production mode selects Kafka and Elasticsearch, and requires their addresses', () => {
  const problems = problemsOf({ TICKCAST_MODE: 'production' });
  assert.ok(problems.some((p) => p.startsWith('TICKCAST_KAFKA_BROKERS is required')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('TICKCAST_ES_URL is required')), problems.join('\n'));
  const c = load({ TICKCAST_MODE: 'production', TICKCAST_KAFKA_BROKERS: 'k:9092', TICKCAST_ES_URL: 'http://es:9200' });
  assert.equal(c.bus, 'kafka');
  assert.equal(c.store, 'elasticsearch');
});

test('backends can be overridden independently of the mode', () => {
  const c = load({ TICKCAST_MODE: 'production', TICKCAST_BUS: 'memory', TICKCAST_STORE: 'sqlite' });
  assert.equal(c.bus, 'memory');
  assert.equal(c.store, 'sqlite');
  const k = load({ TICKCAST_BUS: 'kafka', TICKCAST_KAFKA_BROKERS: 'localhost:9092' });
  assert.equal(k.mode, 'embedded');
  assert.equal(k.bus, 'kafka');
});

test('a wrong value names the variable, the expected form and what was given', () => {
  const cases: [string, string, RegExp][] = [
    ['TICKCAST_MODE', 'prod', /^TICKCAST_MODE: expected embedded or production; got "prod"/],
    ['TICKCAST_BUS', 'rabbitmq', /^TICKCAST_BUS: expected memory or kafka/],
    ['TICKCAST_STORE', 'postgres', /^TICKCAST_STORE: expected sqlite or elasticsearch/],
    ['TICKCAST_KAFKA_PARTITIONS', 'three', /^TICKCAST_KAFKA_PARTITIONS: expected an integer from 1 to 1000; got "three"/],
    ['TICKCAST_KAFKA_PARTITIONS', '0', /^TICKCAST_KAFKA_PARTITIONS: expected an integer from 1 to 1000; got 0/],
    ['TICKCAST_KAFKA_PARTITIONS', '2.5', /^TICKCAST_KAFKA_PARTITIONS: expected an integer/],
    ['TICKCAST_KAFKA_REPLICATION_FACTOR', '0', /^TICKCAST_KAFKA_REPLICATION_FACTOR: expected an integer from 1 to 32, or -1/],
    ['TICKCAST_KAFKA_BROKERS', 'localhost', /^TICKCAST_KAFKA_BROKERS: expected a comma-separated list of host:port/],
    ['TICKCAST_KAFKA_CLIENT_ID', 'has space', /^TICKCAST_KAFKA_CLIENT_ID: expected letters, digits/],
    ['TICKCAST_HTTP_PORT', '65536', /^TICKCAST_HTTP_PORT: expected a TCP port from 0 to 65535/],
    ['TICKCAST_HTTP_PORT', '-1', /^TICKCAST_HTTP_PORT: expected a TCP port/],
    ['TICKCAST_PAIRS', 'btc-usd', /^TICKCAST_PAIRS: expected a comma-separated list of distinct BASE\/QUOTE pairs/],
    ['TICKCAST_PAIRS', 'BTC/USD,BTC/USD', /^TICKCAST_PAIRS: expected .*distinct/],
    ['TICKCAST_LOG_LEVEL', 'verbose', /^TICKCAST_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent; got "verbose"/],
    ['TICKCAST_ES_URL', 'es:9200', /^TICKCAST_ES_URL: expected an http\(s\) URL/],
    ['TICKCAST_ES_INDEX_PREFIX', 'Tickcast', /^TICKCAST_ES_INDEX_PREFIX: expected lower-case/],
    ['TICKCAST_LAG_INTERVAL_MS', '10', /^TICKCAST_LAG_INTERVAL_MS: expected milliseconds from 100/],
    ['TICKCAST_HANDLER_RETRIES', '99', /^TICKCAST_HANDLER_RETRIES: expected an integer from 0 to 20/],
  ];
  for (const [name, value, want] of cases) {
    const problems = problemsOf({ [name]: value });
    assert.equal(problems.length, 1, `${name}=${value}: ${problems.join(' | ')}`);
    assert.match(problems[0] as string, want, `${name}=${value}`);
  }
});

test('every wrong variable is reported at once, and the error message lists them', () => {
  try {
    load({ TICKCAST_MODE: 'x', TICKCAST_HTTP_PORT: 'y' });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, /TICKCAST_MODE/);
    assert.match(e.message, /TICKCAST_HTTP_PORT/);
  }
});

test('an empty variable counts as unset', () => {
  const c = load({ TICKCAST_HTTP_PORT: '', TICKCAST_ES_URL: '  ' });
  assert.equal(c.httpPort, 8080);
  assert.equal(c.esUrl, undefined);
});

test('Elasticsearch user and password go together', () => {
  const p = problemsOf({ TICKCAST_ES_USERNAME: 'elastic' });
  assert.match(p[0] as string, /TICKCAST_ES_USERNAME and TICKCAST_ES_PASSWORD go together/);
});

test('TICKCAST_CONFIG file: values by variable name, the environment wins, typos are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-config-'));
  const file = join(dir, 'tickcast.json');
  writeFileSync(file, JSON.stringify({ TICKCAST_KAFKA_PARTITIONS: 6, TICKCAST_PAIRS: ['ETH/USD'], TICKCAST_HTTP_PORT: '9000' }));
  const c = loadConfig({ env: { TICKCAST_CONFIG: file, TICKCAST_HTTP_PORT: '9100' } });
  assert.equal(c.kafkaPartitions, 6);
  assert.deepEqual(c.pairs, ['ETH/USD']);
  assert.equal(c.httpPort, 9100, 'the environment wins over the file');

  writeFileSync(file, JSON.stringify({ TICKCAST_KAFKA_PARTITONS: 6 }));
  const typo = problemsOf({}, file);
  assert.match(typo[0] as string, /^TICKCAST_KAFKA_PARTITONS \(in .*tickcast\.json\) is not a known variable/);

  writeFileSync(file, JSON.stringify({ TICKCAST_KAFKA_PARTITIONS: 'many' }));
  assert.match(problemsOf({}, file)[0] as string, /^TICKCAST_KAFKA_PARTITIONS: expected an integer from 1 to 1000; got "many" \(in .*tickcast\.json\)/);

  writeFileSync(file, '{ not json');
  assert.match(problemsOf({}, file)[0] as string, /^TICKCAST_CONFIG=.*tickcast\.json: cannot read it as a JSON object/);
  assert.match(problemsOf({}, join(dir, 'missing.json'))[0] as string, /^TICKCAST_CONFIG=.*missing\.json: cannot read/);
});

const SECRETS = {
  TICKCAST_ES_PASSWORD: 'hunter2-pw-7f3a',
  TICKCAST_ES_USERNAME: 'elastic',
  TICKCAST_ES_API_KEY: 'c2VjcmV0LWFwaS1rZXk=',
  TICKCAST_ALERT_WEBHOOK_URL: 'https://hooks.example.com/services/T000/B000/XXXXsecretpath',
  TICKCAST_ES_URL: 'https://elastic:url-pass-9d1c@es.example.com:9200',
};
const secretValues = ['hunter2-pw-7f3a', 'c2VjcmV0LWFwaS1rZXk=', 'XXXXsecretpath', 'url-pass-9d1c'];

test('redactConfig hides passwords, keys, webhook URLs and credentials inside URLs', () => {
  const c = load(SECRETS);
  assert.equal(c.esPassword, SECRETS.TICKCAST_ES_PASSWORD, 'the config itself holds the real value');
  const shown = JSON.stringify(redactConfig(c));
  for (const s of secretValues) assert.ok(!shown.includes(s), `${s} leaked: ${shown}`);
  const r = redactConfig(c);
  assert.equal(r.TICKCAST_ES_PASSWORD, REDACTED);
  assert.equal(r.TICKCAST_ES_API_KEY, REDACTED);
  assert.equal(r.TICKCAST_ALERT_WEBHOOK_URL, REDACTED);
  assert.equal(r.TICKCAST_ES_URL, `https://elastic:${REDACTED}@es.example.com:9200`);
  assert.equal(r.TICKCAST_ES_USERNAME, 'elastic', 'a user name is not a secret');
});

test('a rejected secret is not echoed in the error', () => {
  const problems = problemsOf({ TICKCAST_ALERT_WEBHOOK_URL: 'not-a-url-topsecret-token' });
  assert.match(problems[0] as string, /^TICKCAST_ALERT_WEBHOOK_URL: expected an http\(s\) URL; got \[redacted\]/);
  assert.ok(!problems.join('').includes('topsecret'));
});

test('redactSecrets walks nested objects by key name', () => {
  const out = redactSecrets({
    a: { apiKey: 'k1', nested: [{ password: 'p1', host: 'h' }] },
    token: 't1',
    url: 'http://u:p2@h/',
    key: 'BTC/USD',
  });
  assert.deepEqual(out, {
    a: { apiKey: REDACTED, nested: [{ password: REDACTED, host: 'h' }] },
    token: REDACTED,
    url: `http://u:${REDACTED}@h/`,
    key: 'BTC/USD',
  });
});

test('the logger never writes secrets, even when a whole config is logged', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', destination: sink });
  const c = load(SECRETS);
  logger.info({ config: c }, 'raw config object');
  logger.info({ config: redactConfig(c) }, 'redacted config');
  logger.info({ password: 'hunter2-pw-7f3a', auth: { apiKey: 'c2VjcmV0LWFwaS1rZXk=' } }, 'ad hoc');
  await new Promise((r) => setImmediate(r));
  const text = lines.join('');
  assert.ok(text.includes('raw config object') && text.includes('ad hoc'), 'lines were written');
  for (const s of ['hunter2-pw-7f3a', 'c2VjcmV0LWFwaS1rZXk=', 'XXXXsecretpath']) assert.ok(!text.includes(s), `${s} leaked into logs`);
});

test('every config key has a TICKCAST_ variable', () => {
  for (const [key, env] of Object.entries(ENV_NAMES)) assert.match(env, /^TICKCAST_[A-Z_]+$/, key);
  assert.equal(new Set(Object.values(ENV_NAMES)).size, Object.keys(ENV_NAMES).length, 'names are unique');
});
