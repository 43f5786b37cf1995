/**
 * The error service against the REAL Kafka broker and Elasticsearch node
 * (TICKCAST_TEST_KAFKA_BROKERS, TICKCAST_TEST_ES_URL, exported by
 * scripts/services/with-services.sh). Unique topic and index prefixes per run.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Bus, KafkaTransport } from '../../src/bus/index.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { Candle, PredictionError } from '../../src/contracts/messages.ts';
import { openStores, type Stores } from '../../src/stores/index.ts';
import { monitorService } from '../../src/pipeline/monitor-service.ts';
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
    assert.ok(Math.abs(m.error - (p.predicted_price - actual)) < 1e-9);
    assert.ok(Math.abs(b.error - (p.last_close - actual)) < 1e-9);
  }
  assert.equal(new Set(out.map((e) => `${e.model_version}|${e.target_ms}`)).size, out.length, 'no duplicates on the topic');
  now += 1;
  await svc.check();
  assert.equal(svc.snapshot().unresolved.count, 0);
});
