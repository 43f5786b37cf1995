/**
 * The operations endpoint: /healthz, /readyz (503 until every check passes),
 * /metrics in Prometheus text format with the bus and store metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startOpsServer } from '../../src/ops/ops-server.ts';
import { messagesOut, storeWriteSeconds, consumerLag, deadLetters } from '../../src/ops/metrics.ts';
import { storeWriteSeconds as storesOwnHistogram } from '../../src/stores/store-metrics.ts';

const logger = pino({ level: 'silent' });

test('healthz, readyz and metrics', async () => {
  let busUp = false;
  const ops = await startOpsServer({ host: '127.0.0.1', port: 0, logger, readiness: { bus: () => busUp, services: () => true } });
  try {
    assert.ok(ops.port > 0, 'a free port was chosen');
    const health = await fetch(`${ops.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');

    const notReady = await fetch(`${ops.url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), { ready: false, checks: { bus: false, services: true } });
    busUp = true;
    const ready = await fetch(`${ops.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, checks: { bus: true, services: true } });

    messagesOut().inc({ topic: 'trades' }, 3);
    storeWriteSeconds().observe({ store: 'sqlite', op: 'features-technical' }, 0.004);
    consumerLag().set({ topic: 'candles', group: 'features' }, 7);
    deadLetters().inc({ topic: 'trades', reason_kind: 'schema' });
    const metrics = await fetch(`${ops.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await metrics.text();
    assert.match(text, /^tickcast_bus_messages_out_total\{topic="trades"\} \d+/m);
    assert.match(text, /^tickcast_store_write_seconds_bucket\{le="0\.005",store="sqlite",op="features-technical"\} [1-9]/m);
    assert.match(text, /^tickcast_bus_consumer_lag_messages\{topic="candles",group="features"\} 7$/m);
    assert.match(text, /^tickcast_dead_letters_total\{topic="trades",reason_kind="schema"\} [1-9]/m);

    assert.equal((await fetch(`${ops.url}/nope`)).status, 404);
    assert.equal((await fetch(`${ops.url}/healthz`, { method: 'POST' })).status, 405);
  } finally {
    await ops.close();
  }
});

test('a failing readiness check reads as not ready, not as a crash', async () => {
  const ops = await startOpsServer({
    host: '127.0.0.1',
    port: 0,
    logger,
    readiness: {
      bus: () => {
        throw new Error('broken');
      },
    },
  });
  try {
    const r = await fetch(`${ops.url}/readyz`);
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), { ready: false, checks: { bus: false } });
  } finally {
    await ops.close();
  }
});

test('each metric exists once per process, shared with the stores module', () => {
  assert.equal(storeWriteSeconds(), storeWriteSeconds());
  assert.equal(storeWriteSeconds(), storesOwnHistogram(), 'the stores get the same histogram');
  assert.equal(messagesOut(), messagesOut());
});
