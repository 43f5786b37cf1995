/**
 * Store down, with the REAL Elasticsearch node: a stream of writes runs, the
 * node is stopped mid-way, writes keep coming (and retry with backoff), the
 * node is started again, and then every acknowledged write is there, each
 * natural key exactly once. Takes about a minute (Elasticsearch restarts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@elastic/elasticsearch';
import { pino } from 'pino';
import { register } from 'prom-client';
import type { Prediction } from '../../src/contracts/messages.ts';
import { openStores, StoreError, type Stores, type WriteResult } from '../../src/stores/index.ts';
import { deleteIndices, esCtl, esUrl, testPrefix } from './es-test-env.ts';

const run = promisify(execFile);
const logger = pino({ level: 'silent' });

/** Stop or start the test node; returns the script's last output line. Restarts are slow on a loaded machine. */
async function ctl(action: 'stop' | 'start'): Promise<string> {
  const { stdout } = await run(esCtl(), [action], { timeout: 20 * 60_000 });
  return stdout.trim().split('\n').pop() ?? '';
}

const T0 = Date.UTC(2024, 7, 8, 23, 55, 0);
const PAIR = 'BTC/USD';

/** Prediction k of the stream (made once a minute). */
const prediction = (k: number): Prediction => ({
  pair: PAIR,
  made_at_ms: T0 + k * 60_000,
  target_ms: T0 + k * 60_000 + 300_000,
  horizon_s: 300,
  predicted_price: 61_000 + k * 0.25,
  last_close: 61_000 + k * 0.2,
  model_name: 'lgbm',
  model_version: 'store-down',
});
const keyOf = (p: Prediction) => `${p.pair}|${p.model_version}|${p.made_at_ms}`;

interface Tracked {
  k: number;
  settled: boolean;
  result: Promise<WriteResult>;
}

/** Retries counted so far for the predictions series (tickcast_store_write_retries_total). */
async function retriesSoFar(): Promise<number> {
  const m = register.getSingleMetric('tickcast_store_write_retries_total');
  if (!m) return 0;
  const v = (await m.get()).values.find((x) => x.labels.store === 'elasticsearch' && x.labels.op === 'predictions');
  return v?.value ?? 0;
}

test('elasticsearch store down: writes retry while the node is stopped, nothing acknowledged is lost', { timeout: 25 * 60_000 }, async (t) => {
  const node = esUrl();
  esCtl(); // fail now, not mid-way, if the control script is missing
  const indexPrefix = testPrefix();
  let stores: Stores | undefined;
  let impatient: Stores | undefined;
  let nodeDown = false;
  try {
    const common = { kind: 'elasticsearch' as const, node, indexPrefix, numberOfReplicas: 0 };
    // A budget far above a restart (which took up to 7 minutes on a loaded 2-core machine).
    stores = await openStores({ ...common, retryBudgetMs: 15 * 60_000, retryMaxDelayMs: 2_000 }, logger);
    // Same indices, tiny budget: shows what happens when the budget runs out.
    impatient = await openStores({ ...common, retryBudgetMs: 1_500, retryMaxDelayMs: 500 }, logger);
    const series = stores.predictions.predictions;

    // The stream: every 40 ms a batch of [a new prediction, a replay of one written 5 before].
    const writes: Tracked[] = [];
    let next = 0;
    let streaming = true;
    const issue = () => {
      const k = next++;
      const batch = k >= 5 ? [prediction(k), prediction(k - 5)] : [prediction(k)];
      const t: Tracked = { k, settled: false, result: series.write(batch) };
      t.result.then(
        () => (t.settled = true),
        () => (t.settled = true),
      );
      writes.push(t);
    };
    // Paused while the node starts again (that can take minutes on a loaded machine),
    // so the number of writes in flight stays bounded.
    let paused = false;
    const writer = (async () => {
      while (streaming) {
        if (!paused) issue();
        await sleep(40);
      }
    })();

    while (next < 40) await sleep(20); // phase 1: node up
    nodeDown = true;
    const tStop = Date.now();
    await ctl('stop'); // writes keep coming while it stops
    t.diagnostic(`node stopped in ${Date.now() - tStop} ms`);
    const firstWhileDown = next;
    while (next < firstWhileDown + 40) await sleep(20); // phase 2: node down

    // A write whose budget runs out is NOT acknowledged: it rejects with STORE_UNAVAILABLE.
    await assert.rejects(
      impatient.predictions.errors.put({
        pair: PAIR,
        target_ms: T0,
        predicted_price: 61_000,
        actual_price: 61_010,
        error: -10,
        abs_pct_error: (10 / 61_010) * 100,
        model_version: 'store-down',
      }),
      (e: unknown) => e instanceof StoreError && e.code === 'STORE_UNAVAILABLE',
    );
    // Writes issued against the stopped node are neither acknowledged nor given up: still retrying.
    const downWrites = writes.filter((w) => w.k >= firstWhileDown);
    assert.ok(downWrites.length >= 40);
    assert.deepEqual(downWrites.filter((w) => w.settled).map((w) => w.k), [], 'no write settles while the node is down');

    const tStart = Date.now();
    paused = true;
    const started = await ctl('start'); // blocks until the node is ready again
    nodeDown = false;
    paused = false;
    t.diagnostic(`node down for ${Date.now() - tStop} ms; start took ${Date.now() - tStart} ms: ${started}`);
    const firstAfter = next;
    while (next < firstAfter + 20) await sleep(20); // phase 3: node back
    streaming = false;
    await writer;

    // Every write is acknowledged, in full, and it took retries to get there.
    const retries = await retriesSoFar();
    assert.ok(retries > 0, 'writes were retried while the node was down');
    t.diagnostic(`${next} writes (${firstAfter - firstWhileDown} issued while the node was down), ${retries} retries`);
    const results = await Promise.all(writes.map((w) => w.result));
    results.forEach((r, i) => {
      assert.deepEqual(r.rejected, [], `write ${i}`);
      assert.equal(r.written, i >= 5 ? 2 : 1, `write ${i}`);
    });

    // Count with a plain client: each natural key exactly once, the right documents.
    const n = next;
    const client = new Client({ node });
    try {
      const index = `${indexPrefix}predictions`;
      await client.indices.refresh({ index });
      const count = await client.count({ index });
      assert.equal(count.count, n, `documents in ${index} = predictions written`);
      const res = await client.search<Prediction & { doc_key: string; series_key: string }>({ index, size: n + 100, query: { match_all: {} } });
      const byId = new Map(res.hits.hits.map((h) => [h._id, h._source]));
      assert.equal(byId.size, n);
      for (let k = 0; k < n; k++) {
        const p = prediction(k);
        const got = byId.get(keyOf(p));
        assert.ok(got, `prediction ${k} (${keyOf(p)}) is stored`);
        const { doc_key: _d, series_key: _s, ...doc } = got;
        assert.deepEqual(doc, p);
      }
    } finally {
      await client.close();
    }
    // And through the store: the whole stream in time order.
    assert.deepEqual(await series.range({ pair: PAIR }), Array.from({ length: n }, (_, k) => prediction(k)));
  } finally {
    if (nodeDown) await ctl('start'); // never leave the shared test node stopped
    await impatient?.close();
    await stores?.close();
    await deleteIndices(node, indexPrefix);
  }
});
