/**
 * The Elasticsearch write path against scripted answers: 503 and 429 for the
 * whole request, 429 for single items (only those are sent again), 400 for an
 * item (refused, not retried), an unreachable node (budget runs out). The
 * real-node behaviour, node stopped and restarted, is in
 * elasticsearch-store-down.test.ts; this file needs no server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Prediction } from '../../src/contracts/messages.ts';
import { openStores, StoreError } from '../../src/stores/index.ts';

const logger = pino({ level: 'silent' });

const prediction = (k: number): Prediction => ({
  pair: 'BTC/USD',
  made_at_ms: 1_723_161_300_000 + k * 60_000,
  target_ms: 1_723_161_600_000 + k * 60_000,
  horizon_s: 300,
  predicted_price: 61_000 + k,
  last_close: 61_000,
  model_name: 'lgbm',
  model_version: 'v1',
});

type Item = { status: number; error?: { type: string; reason: string } };
type Answer = { status: number; items?: Item[] };

/** A stand-in Elasticsearch that answers index set-up with success and each _bulk with the next scripted answer. */
async function scriptedNode(answers: Answer[]): Promise<{ url: string; bulkIds: string[][]; close: () => Promise<void> }> {
  const bulkIds: string[][] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
        res.end(json === undefined ? '' : JSON.stringify(json));
      };
      if (req.url?.startsWith('/_bulk')) {
        const lines = body.split('\n').filter((l) => l.length > 0);
        const ids = lines.filter((_, i) => i % 2 === 0).map((l) => (JSON.parse(l) as { index: { _id: string } }).index._id);
        bulkIds.push(ids);
        const a = answers.shift() ?? { status: 200 };
        if (a.status !== 200) return send(a.status, { error: { type: 'scripted', reason: `scripted ${a.status}` }, status: a.status });
        const items = ids.map((id, i) => ({ index: { _id: id, ...(a.items?.[i] ?? { status: 201 }) } }));
        return send(200, { took: 1, errors: items.some((it) => it.index.status >= 300), items });
      }
      if (req.method === 'HEAD') return send(200, undefined);
      return send(200, { acknowledged: true });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, bulkIds, close: () => new Promise((r) => server.close(() => r())) };
}

const fast = { retryBaseDelayMs: 5, retryMaxDelayMs: 20, numberOfReplicas: 0 };

test('bulk: 503 and 429 answers are retried; items answered 429 are sent again, alone', async () => {
  const node = await scriptedNode([
    { status: 503 },
    { status: 429 },
    { status: 200, items: [{ status: 201 }, { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } }, { status: 200 }] },
    { status: 200 },
  ]);
  const stores = await openStores({ kind: 'elasticsearch', node: node.url, indexPrefix: 'tickcast-t-', ...fast }, logger);
  try {
    const docs = [prediction(0), prediction(1), prediction(2)];
    const r = await stores.predictions.predictions.write(docs);
    assert.deepEqual(r, { written: 3, rejected: [] });
    const ids = docs.map((d) => `${d.pair}|${d.model_version}|${d.made_at_ms}`);
    assert.deepEqual(node.bulkIds, [ids, ids, ids, [ids[1]]]);
  } finally {
    await stores.close();
    await node.close();
  }
});

test('bulk: an item refused with 400 is reported (REJECTED_BY_STORE) and not retried; the rest is written', async () => {
  const node = await scriptedNode([
    { status: 200, items: [{ status: 201 }, { status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse' } }] },
  ]);
  const stores = await openStores({ kind: 'elasticsearch', node: node.url, indexPrefix: 'tickcast-t-', ...fast }, logger);
  try {
    const r = await stores.predictions.predictions.write([prediction(0), prediction(1)]);
    assert.equal(r.written, 1);
    assert.equal(r.rejected.length, 1);
    assert.equal(r.rejected[0]?.index, 1);
    assert.equal(r.rejected[0]?.error.code, 'REJECTED_BY_STORE');
    assert.match(r.rejected[0]?.error.message ?? '', /mapper_parsing_exception/);
    assert.equal(node.bulkIds.length, 1, 'no retry of a 400');
  } finally {
    await stores.close();
    await node.close();
  }
});

test('bulk: 5xx past the retry budget rejects with STORE_UNAVAILABLE (the write is not acknowledged)', async () => {
  const node = await scriptedNode(Array.from({ length: 1000 }, () => ({ status: 503 })));
  const stores = await openStores({ kind: 'elasticsearch', node: node.url, indexPrefix: 'tickcast-t-', ...fast, retryBudgetMs: 300 }, logger);
  try {
    await assert.rejects(stores.predictions.predictions.write([prediction(0)]), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.code, 'STORE_UNAVAILABLE');
      assert.match(e.message, /retry budget/);
      return true;
    });
    assert.ok(node.bulkIds.length > 1, 'retried before giving up');
  } finally {
    await stores.close();
    await node.close();
  }
});

test('start-up against an unreachable node fails with STORE_UNAVAILABLE once the budget is spent', async () => {
  // A port that was free a moment ago: nothing listens there.
  const srv = http.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  await assert.rejects(
    openStores({ kind: 'elasticsearch', node: `http://127.0.0.1:${port}`, indexPrefix: 'tickcast-t-', ...fast, retryBudgetMs: 200 }, logger),
    (e: unknown) => e instanceof StoreError && e.code === 'STORE_UNAVAILABLE',
  );
});

test('an index prefix with upper-case letters is refused', async () => {
  await assert.rejects(
    openStores({ kind: 'elasticsearch', node: 'http://127.0.0.1:1', indexPrefix: 'Tickcast-' }, logger),
    (e: unknown) => e instanceof StoreError && e.code === 'INVALID_CONFIG' && /index prefix/.test(e.message),
  );
});
