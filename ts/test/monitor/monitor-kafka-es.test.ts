/**
 * The monitor service against the REAL Kafka broker and Elasticsearch node
 * (TICKCAST_TEST_KAFKA_BROKERS, TICKCAST_TEST_ES_URL, exported by
 * scripts/services/with-services.sh): error resolution, a restart that
 * resolves what came due while down exactly once, and an alert rule firing
 * one notification to a local webhook recorder. Unique topic and index
 * prefixes per run and per test. Expected numbers are recomputed naively
 * from the CSV closes, not taken from the service.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@elastic/elasticsearch';
import { Bus, KafkaTransport } from '../../src/bus/index.ts';
import { loadConfig } from '../../src/config/config.ts';
import { Topics, type Candle, type Prediction, type PredictionError, type TopicKey } from '../../src/contracts/messages.ts';
import { openStores, type Stores } from '../../src/stores/index.ts';
import { monitorService } from '../../src/pipeline/monitor-service.ts';
import type { AlertRule } from '../../src/monitor/alert-rules.ts';
import { PAIR, predictionAt, quietLogger, realCandles } from './fixtures.ts';
import { deleteIndices } from '../stores/es-test-env.ts';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/monitor/monitor-kafka-es.test.ts';
const logger = quietLogger();
const run = randomBytes(4).toString('hex');
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

async function until(cond: () => Promise<boolean> | boolean, what: () => string, ms = 90_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const keyOf = (e: Pick<PredictionError, 'model_version' | 'target_ms'>) => `${e.model_version}|${e.target_ms}`;

/**
 * The producer is not kafkajs' idempotent one (src/bus/kafka.ts): a send retried after a timeout may land twice, and
 * the natural-key writes downstream absorb it. So the topic may repeat a message, byte for byte; a second resolution
 * shows in the errors index instead (document version > 1, checked where it matters). Repeats are printed.
 */
function assertResentOnly(out: PredictionError[]): void {
  const first = new Map<string, string>();
  let repeats = 0;
  for (const e of out) {
    const k = keyOf(e);
    const j = JSON.stringify(e);
    if (!first.has(k)) first.set(k, j);
    else {
      repeats++;
      assert.equal(j, first.get(k), `${k} on the topic twice, and not the same message`);
    }
  }
  if (repeats > 0) console.log(`prediction-errors: ${repeats} message(s) sent again by a producer retry: ${[...new Set(out.map(keyOf).filter((k, i, a) => a.indexOf(k) !== i))].join(", ")}`);
}

test('Kafka + Elasticsearch: candles and predictions in, errors with baselines on the topic and in the errors index', { timeout: 240_000 }, async () => {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  const node = process.env.TICKCAST_TEST_ES_URL;
  if (!brokers) throw new Error(`TICKCAST_TEST_KAFKA_BROKERS is not set: ${HOW}`);
  if (!node) throw new Error(`TICKCAST_TEST_ES_URL is not set: ${HOW}`);
  const indexPrefix = `tickcast-test-mon-${run}-`;
  const stores: Stores = await openStores({ kind: 'elasticsearch', node, indexPrefix, refresh: 'wait_for', numberOfReplicas: 0, retryBudgetMs: 30_000 }, logger);
  cleanup.push(() => deleteIndices(node, indexPrefix), () => stores.close());
  const transport = new KafkaTransport({ logger, brokers: brokers.split(','), clientId: 'tickcast-monitor-test', partitions: 2, replicationFactor: 1, topicPrefix: `tmon${run}-`, lagIntervalMs: 0, sessionTimeoutMs: 6000 });
  const bus = new Bus(transport, { logger, retries: 1, retryBaseMs: 10 });
  await bus.start();
  cleanup.push(() => bus.close());

  const candles = realCandles().slice(200, 230);
  let now = (candles.at(-1) as Candle).window_end_ms;
  const svc = monitorService({ pairs: [PAIR], checkIntervalMs: 0, rules: [], clock: () => now });
  await svc.start({ config: loadConfig({ env: {} }), logger, bus, stores: async () => stores, signal: new AbortController().signal });
  cleanup.push(() => svc.stop());
  const out: PredictionError[] = [];
  await bus.consume({ group: 'errors-reader', topics: ['predictionErrors'], fromBeginning: true, handler: (m) => void out.push(m) });

  const preds = candles.slice(0, 20).map((c) => predictionAt(c));
  // Stored before they are published, as the predictor and the features service do (what a group join recovers from).
  await stores.predictions.predictions.write(preds);
  await stores.features.candles.write(candles);
  await bus.publish('predictions', preds);
  await bus.publish('candles', candles);
  const closeAt = new Map(candles.map((c) => [c.window_end_ms, c.close]));
  const want = preds.filter((p) => closeAt.has(p.target_ms)).length;
  assert.equal(want, 20);
  await until(() => out.length >= want * 2, () => `${want * 2} prediction-errors on Kafka, got ${out.length}`);
  await until(async () => (await stores.predictions.errors.range({ pair: PAIR })).length >= want * 2, () => 'error rows in Elasticsearch');
  const stored = await stores.predictions.errors.range({ pair: PAIR });
  assert.equal(stored.length, want * 2);
  for (const p of preds) {
    const actual = closeAt.get(p.target_ms) as number;
    const m = stored.find((e) => e.model_version === p.model_version && e.target_ms === p.target_ms);
    const b = stored.find((e) => e.model_version === 'baseline:persistence' && e.target_ms === p.target_ms);
    assert.ok(m && b, `model and baseline rows for ${p.target_ms}`);
    assert.ok(Math.abs(m.error - (p.predicted_price! - actual)) < 1e-9);
    assert.ok(Math.abs(b.error - (p.last_close - actual)) < 1e-9);
  }
  assertResentOnly(out);
  now += 1;
  await svc.check();
  assert.equal(svc.snapshot().unresolved.count, 0);
});

const BASE = 'baseline:persistence';
const GROUP = 'monitor';
function servers(): { brokers: string; node: string } {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  const node = process.env.TICKCAST_TEST_ES_URL;
  if (!brokers) throw new Error(`TICKCAST_TEST_KAFKA_BROKERS is not set: ${HOW}`);
  if (!node) throw new Error(`TICKCAST_TEST_ES_URL is not set: ${HOW}`);
  return { brokers, node };
}

/** A Kafka bus on a test's own topic prefix (one per "process"). */
async function kafkaBus(brokers: string, topicPrefix: string, clientId: string): Promise<{ bus: Bus; transport: KafkaTransport }> {
  const transport = new KafkaTransport({ logger, brokers: brokers.split(','), clientId, partitions: 2, replicationFactor: 1, topicPrefix, lagIntervalMs: 0, sessionTimeoutMs: 6000 });
  const bus = new Bus(transport, { logger, retries: 1, retryBaseMs: 10 });
  await bus.start();
  return { bus, transport };
}

const esStores = (node: string, indexPrefix: string): Promise<Stores> =>
  openStores({ kind: 'elasticsearch', node, indexPrefix, refresh: 'wait_for', numberOfReplicas: 0, retryBudgetMs: 30_000 }, logger);

/** A group's lag per topic name (log ends minus committed offsets). */
async function lagOf(t: KafkaTransport, group: string, topics: readonly TopicKey[]): Promise<Map<string, number>> {
  return t.lag(group, topics.map((k) => Topics[k].name));
}
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Naive reference: model and baseline error per natural key, from the candle closes. */
function expectedErrors(preds: Prediction[], candles: Candle[]): Map<string, number> {
  const closeAt = new Map(candles.map((c) => [c.window_end_ms, c.close]));
  const out = new Map<string, number>();
  for (const p of preds) {
    const actual = closeAt.get(p.target_ms);
    if (actual === undefined) continue;
    out.set(`${p.model_version}|${p.target_ms}`, p.predicted_price! - actual);
    out.set(`${BASE}|${p.target_ms}`, p.last_close - actual);
  }
  return out;
}

test('Kafka + Elasticsearch restart: predictions that came due while the monitor was down are resolved exactly once', { timeout: 300_000 }, async () => {
  const { brokers, node } = servers();
  const indexPrefix = `tickcast-test-monr-${run}-`;
  const topicPrefix = `tmonr${run}-`;
  cleanup.push(() => deleteIndices(node, indexPrefix));
  const candles = realCandles().slice(400, 460);
  const preds = candles.slice(0, 50).map((c) => predictionAt(c));
  const expected = expectedErrors(preds, candles);
  assert.equal(expected.size, 50 * 2, 'every target (5 candles on) is among the 60 candles');

  // A separate "process": the other services' producer and an independent prediction-errors reader.
  const other = await kafkaBus(brokers, topicPrefix, 'tickcast-monitor-restart-other');
  cleanup.push(() => other.bus.close());
  const out: PredictionError[] = [];
  await other.bus.consume({ group: 'errors-reader', topics: ['predictionErrors'], fromBeginning: true, handler: (m) => void out.push(m) });

  // Run 1: the first 20 candles and predictions, stored by their writers and published.
  let stores = await esStores(node, indexPrefix);
  await stores.features.candles.write(candles.slice(0, 20));
  await stores.predictions.predictions.write(preds.slice(0, 20));
  let now = (candles[19] as Candle).window_end_ms;
  const first = await kafkaBus(brokers, topicPrefix, 'tickcast-monitor-run1');
  let svc = monitorService({ pairs: [PAIR], checkIntervalMs: 0, rules: [], group: GROUP, clock: () => now });
  await svc.start({ config: loadConfig({ env: {} }), logger, bus: first.bus, stores: async () => stores, signal: new AbortController().signal });
  await other.bus.publish('predictions', preds.slice(0, 20));
  await other.bus.publish('candles', candles.slice(0, 20));
  // Predictions 0..14 target candles 5..19 (present); 15..19 wait for candles 20..24.
  await until(() => new Set(out.map(keyOf)).size >= 15 * 2, () => `30 prediction-errors from run 1, got ${out.length}`);
  await until(async () => total(await lagOf(first.transport, GROUP, ['candles', 'predictions'])) === 0, () => 'run 1 to commit every candle and prediction');
  await svc.stop();
  await first.bus.close();
  await stores.close();
  assertResentOnly(out);
  assert.equal(new Set(out.map(keyOf)).size, 15 * 2, 'run 1 resolved predictions 0..14 (model + baseline) only');

  // Down: the other services keep storing and publishing; the monitor's group falls behind.
  stores = await esStores(node, indexPrefix);
  cleanup.push(() => stores.close());
  await stores.features.candles.write(candles.slice(20));
  await stores.predictions.predictions.write(preds.slice(20));
  await other.bus.publish('predictions', preds.slice(20));
  await other.bus.publish('candles', candles.slice(20));
  assert.deepEqual(
    Object.fromEntries(await lagOf(other.transport, GROUP, ['candles', 'predictions'])),
    { candles: 40, predictions: 30 },
    'the stopped group has the messages of the downtime pending',
  );

  // Run 2: a new monitor instance (new Kafka client, same group, same indices), clock at the last candle.
  now = (candles.at(-1) as Candle).window_end_ms;
  const second = await kafkaBus(brokers, topicPrefix, 'tickcast-monitor-run2');
  cleanup.push(() => second.bus.close());
  svc = monitorService({ pairs: [PAIR], checkIntervalMs: 0, rules: [], group: GROUP, clock: () => now });
  await svc.start({ config: loadConfig({ env: {} }), logger, bus: second.bus, stores: async () => stores, signal: new AbortController().signal });
  cleanup.push(() => svc.stop());
  // Redelivered messages of predictions already resolved (a producer retry, a replay) are ignored too.
  await other.bus.publish('predictions', preds.slice(10, 30));
  await other.bus.publish('candles', candles.slice(10, 40));
  await until(() => new Set(out.map(keyOf)).size >= expected.size, () => `${expected.size} prediction-errors in all, got ${out.length}`);
  // Everything on the input topics is processed and committed, and the reader has read everything published.
  await until(async () => total(await lagOf(second.transport, GROUP, ['candles', 'predictions'])) === 0, () => 'run 2 to commit every candle and prediction');
  await until(async () => total(await lagOf(other.transport, 'errors-reader', ['predictionErrors'])) === 0, () => 'the reader to read every prediction-error');

  assertResentOnly(out);
  assert.deepEqual(new Set(out.map(keyOf)), new Set(expected.keys()), 'one message per model error and per baseline: none missing, none extra on the topic');
  for (const e of out) assert.ok(Math.abs(e.error - (expected.get(keyOf(e)) as number)) < 1e-9, `${keyOf(e)} error ${e.error}`);

  // Elasticsearch: the documents of the errors index, counted per natural key, straight from the node.
  const es = new Client({ node });
  try {
    const index = `${indexPrefix}prediction-errors`;
    await es.indices.refresh({ index });
    const res = await es.search<PredictionError>({ index, size: 1000, version: true, query: { match_all: {} } });
    const perKey = new Map<string, number>();
    for (const h of res.hits.hits) {
      const d = h._source as PredictionError;
      assert.equal(d.pair, PAIR);
      const k = keyOf(d);
      perKey.set(k, (perKey.get(k) ?? 0) + 1);
      // An upsert by natural key would hide a second resolution; its document version would not.
      assert.equal(h._version, 1, `${k} written once (document version ${h._version})`);
      assert.ok(Math.abs(d.error - (expected.get(k) as number)) < 1e-9, `${k} stored error ${d.error}`);
    }
    assert.deepEqual(new Set(perKey.keys()), new Set(expected.keys()), 'a document for every model and baseline error, none missing');
    assert.deepEqual([...perKey.values()].filter((n) => n !== 1), [], 'exactly one document per natural key');
    assert.equal(res.hits.hits.length, 50 * 2);
    const models = [...perKey.keys()].filter((k) => !k.startsWith(`${BASE}|`));
    assert.equal(models.length, 50);
  } finally {
    await es.close();
  }
  assert.equal(svc.snapshot().unresolved.count, 0);
  // The rolling window was rebuilt from the index: run 1's rows count too.
  assert.equal(svc.snapshot().accuracy.find((a) => a.model_version === 'toy-v1' && a.window === '1h')?.n, 50);
});

test('Kafka + Elasticsearch alert: the model worse than the baseline fires once, one notification per webhook channel', { timeout: 240_000 }, async () => {
  const { brokers, node } = servers();
  const indexPrefix = `tickcast-test-mona-${run}-`;
  cleanup.push(() => deleteIndices(node, indexPrefix));

  // Webhook recorder (generic JSON webhook and Slack incoming webhook).
  const received: { path: string; body: Record<string, unknown> }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      res.writeHead(200).end(req.url === '/slack' ? 'ok' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // 40 predictions on real candles; the reference MAE ratio over their targets (all within one hour).
  const candles = realCandles().slice(300, 345);
  const preds = candles.slice(0, 40).map((c) => predictionAt(c));
  const expected = expectedErrors(preds, candles);
  assert.equal(expected.size, 40 * 2);
  const mae = (model: string) => {
    const xs = [...expected].filter(([k]) => k.startsWith(`${model}|`)).map(([, e]) => Math.abs(e));
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const ratio = mae('toy-v1') / mae(BASE);
  assert.ok(ratio > 1, `precondition: on these candles the toy model is worse than persistence (ratio ${ratio})`);

  const stores = await esStores(node, indexPrefix);
  cleanup.push(() => stores.close());
  const { bus } = await kafkaBus(brokers, `tmona${run}-`, 'tickcast-monitor-alert');
  cleanup.push(() => bus.close());
  const rule: AlertRule = {
    name: 'model_worse_than_baseline',
    signal: 'mae_vs_baseline',
    op: '>',
    threshold: 1,
    for_s: 60,
    reminder_s: 0,
    severity: 'warning',
    window: '1h',
    summary: "the model's rolling 1h MAE is above the persistence baseline's",
  };
  let now = (candles.at(-1) as Candle).window_end_ms;
  const dash = 'http://127.0.0.1:3000/';
  const svc = monitorService({
    pairs: [PAIR],
    checkIntervalMs: 0,
    rules: [rule],
    notify: { webhookUrl: `${base}/hook`, slackUrl: `${base}/slack`, dashboardUrl: dash, baseDelayMs: 10 },
    clock: () => now,
  });
  await svc.start({ config: loadConfig({ env: {} }), logger, bus, stores: async () => stores, signal: new AbortController().signal });
  cleanup.push(() => svc.stop());
  const out: PredictionError[] = [];
  await bus.consume({ group: 'errors-reader', topics: ['predictionErrors'], fromBeginning: true, handler: (m) => void out.push(m) });
  await stores.predictions.predictions.write(preds);
  await stores.features.candles.write(candles);
  await bus.publish('predictions', preds);
  await bus.publish('candles', candles);
  await until(() => new Set(out.map(keyOf)).size >= expected.size, () => `${expected.size} prediction-errors on Kafka, got ${out.length}`);
  await until(async () => (await stores.predictions.errors.range({ pair: PAIR })).length >= expected.size, () => 'error rows in Elasticsearch');

  // The condition holds: pending first (for_s 60), nothing sent.
  await svc.check();
  await svc.flushNotifications();
  assert.equal(svc.snapshot().alerts[0]?.state, 'pending');
  assert.equal(received.length, 0, 'pending never notifies');
  // 60 s later it fires; later checks stay silent (no reminders configured).
  now += 60_000;
  await svc.check();
  now += 60_000;
  await svc.check();
  now += 3_600_000;
  await svc.check();
  await svc.flushNotifications();
  assert.equal(svc.snapshot().alerts[0]?.state, 'firing');

  const hooks = received.filter((r) => r.path === '/hook');
  const slacks = received.filter((r) => r.path === '/slack');
  assert.equal(hooks.length, 1, 'exactly one generic webhook notification');
  assert.equal(slacks.length, 1, 'exactly one Slack notification');
  assert.equal(received.length, 2);
  const hook = hooks[0]?.body as Record<string, unknown>;
  const slack = slacks[0]?.body as Record<string, unknown>;
  console.log('generic webhook body:', JSON.stringify(hook, null, 2));
  console.log('slack webhook body:', JSON.stringify(slack, null, 2));
  assert.deepEqual(
    { source: hook.source, state: hook.state, rule: hook.rule, signal: hook.signal, key: hook.key, op: hook.op, threshold: hook.threshold, dashboard_url: hook.dashboard_url },
    { source: 'tickcast', state: 'firing', rule: 'model_worse_than_baseline', signal: 'mae_vs_baseline', key: `${PAIR} toy-v1`, op: '>', threshold: 1, dashboard_url: dash },
  );
  assert.ok(Math.abs((hook.value as number) - ratio) < 1e-9, `alert value ${String(hook.value)} vs the recomputed ratio ${ratio}`);
  assert.match(String(slack.text), /FIRING.*model_worse_than_baseline.*BTC\/USDT toy-v1/);
  assert.ok(String(slack.text).includes(ratio.toFixed(2)), 'the Slack text states the value');
});
