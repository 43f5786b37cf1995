/**
 * The store contract on the Elasticsearch backend (the real test node of
 * scripts/services/with-services.sh), plus Elasticsearch specifics: the
 * strict mappings, document ids = natural keys, paged range reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@elastic/elasticsearch';
import { pino } from 'pino';
import { openStores } from '../../src/stores/index.ts';
import { storeContract, type StoreFactory } from './store-contract.ts';
import { deleteIndices, esUrl, testPrefix } from './es-test-env.ts';

const logger = pino({ level: 'silent' });

const esFactory: StoreFactory = {
  name: 'elasticsearch',
  async create() {
    const node = esUrl();
    const indexPrefix = testPrefix();
    return {
      // pageSize 7: the 20-row range cases read several pages (search_after).
      open: () =>
        openStores({ kind: 'elasticsearch', node, indexPrefix, refresh: true, numberOfReplicas: 0, pageSize: 7, retryBudgetMs: 20_000 }, logger),
      dispose: () => deleteIndices(node, indexPrefix),
    };
  },
};

storeContract(esFactory);

test('elasticsearch: strict mappings, features as flat doubles, ids are natural keys', async () => {
  const node = esUrl();
  const indexPrefix = testPrefix();
  const client = new Client({ node });
  const stores = await openStores({ kind: 'elasticsearch', node, indexPrefix, refresh: true, numberOfReplicas: 0 }, logger);
  try {
    const row = {
      pair: 'BTC/USD',
      interval_s: 60,
      window_end_ms: 1_723_161_300_000,
      close: 61_700.5,
      features: { macd: 1.5, 'macd.signal': 2, rsi_14: null },
    };
    assert.deepEqual(await stores.features.technical.write([row, { ...row, close: 61_701 }]), { written: 2, rejected: [] });
    const index = `${indexPrefix}features-technical`;
    const mapping = (await client.indices.getMapping({ index }))[index]?.mappings;
    assert.equal(mapping?.dynamic, 'strict');
    assert.equal((mapping?.properties?.close as { type: string }).type, 'double');
    assert.equal((mapping?.properties?.window_end_ms as { type: string }).type, 'date');
    assert.equal((mapping?.properties?.pair as { type: string }).type, 'keyword');
    const features = mapping?.properties?.features as { properties?: Record<string, { type: string }> };
    assert.equal(features.properties?.macd?.type, 'double');
    assert.equal(features.properties?.['macd.signal']?.type, 'double', 'dotted feature names stay flat leaves');

    // Read with a plain client: one document, its id the natural key, the last value.
    const res = await client.search<Record<string, unknown>>({ index, query: { match_all: {} }, size: 10 });
    assert.equal(res.hits.hits.length, 1);
    assert.equal(res.hits.hits[0]?._id, 'BTC/USD|60|1723161300000');
    assert.equal(res.hits.hits[0]?._source?.close, 61_701);

    // A field outside the schema is refused by the mapping too (strict), not only by validation.
    await assert.rejects(client.index({ index, id: 'x', document: { ...row, extra: 1 } }), /strict_dynamic_mapping_exception/);

    // Reopening an existing prefix keeps the indices and their documents.
    const again = await openStores({ kind: 'elasticsearch', node, indexPrefix, refresh: true, numberOfReplicas: 0 }, logger);
    assert.deepEqual(await again.features.technical.latest({ pair: 'BTC/USD', interval_s: 60 }), { ...row, close: 61_701 });
    await again.close();
  } finally {
    await stores.close();
    await client.close();
    await deleteIndices(node, indexPrefix);
  }
});

test('elasticsearch: a predictions index made before issue 18 (price only mapping) takes the forecasts after a reopen; its old rows read unchanged', async () => {
  const node = esUrl();
  const indexPrefix = testPrefix();
  const client = new Client({ node });
  const index = `${indexPrefix}predictions`;
  try {
    // The mapping as it was before issue 18, written by hand (strict, no forecast objects).
    await client.indices.create({
      index,
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: {
        dynamic: 'strict',
        properties: {
          doc_key: { type: 'keyword' },
          series_key: { type: 'keyword' },
          pair: { type: 'keyword' },
          made_at_ms: { type: 'date', format: 'epoch_millis' },
          target_ms: { type: 'date', format: 'epoch_millis' },
          horizon_s: { type: 'long' },
          predicted_price: { type: 'double' },
          last_close: { type: 'double' },
          model_name: { type: 'keyword' },
          model_version: { type: 'keyword' },
        },
      },
    });
    const old = { pair: 'BTC/USD', made_at_ms: 1_723_161_300_000, target_ms: 1_723_161_600_000, horizon_s: 300, predicted_price: 61_700, last_close: 61_690, model_name: 'lgbm', model_version: 'v1' };
    await client.index({ index, id: 'BTC/USD|v1|1723161300000', document: { ...old, doc_key: 'BTC/USD|v1|1723161300000', series_key: 'BTC/USD' }, refresh: true });
    const stores = await openStores({ kind: 'elasticsearch', node, indexPrefix, refresh: true, numberOfReplicas: 0 }, logger);
    try {
      const mapping = (await client.indices.getMapping({ index }))[index]?.mappings;
      const range = mapping?.properties?.range as { properties?: Record<string, { type: string }> };
      assert.equal(range.properties?.lo90?.type, 'double');
      assert.equal(range.properties?.calibrated?.type, 'boolean');
      assert.equal(range.properties?.model_version?.type, 'keyword');
      const next = { ...old, made_at_ms: old.made_at_ms + 60_000, target_ms: old.target_ms + 60_000, direction: { p_up: 0.6, model_version: 'd1' } };
      assert.deepEqual(await stores.predictions.predictions.write([next]), { written: 1, rejected: [] });
      assert.deepEqual(await stores.predictions.predictions.range({ pair: 'BTC/USD' }), [old, next]);
    } finally {
      await stores.close();
    }
  } finally {
    await client.close();
    await deleteIndices(node, indexPrefix);
  }
});

test('elasticsearch: a range longer than one search page (default page size) is read whole', async () => {
  const node = esUrl();
  const indexPrefix = testPrefix();
  const stores = await openStores({ kind: 'elasticsearch', node, indexPrefix, numberOfReplicas: 0, refresh: false, bulkSize: 2_000 }, logger);
  try {
    const t0 = 1_723_161_300_000;
    const n = 10_050; // > 10 000, Elasticsearch's max result window
    const rows = Array.from({ length: n }, (_, i) => ({ pair: 'ETH/USD', interval_s: 60, window_end_ms: t0 + i * 60_000, close: 2_600 + (i % 97), features: {} }));
    const w = await stores.features.technical.write(rows);
    assert.equal(w.written, n);
    const client = new Client({ node });
    await client.indices.refresh({ index: `${indexPrefix}features-technical` });
    await client.close();
    const all = await stores.features.technical.range({ pair: 'ETH/USD', interval_s: 60 });
    assert.equal(all.length, n);
    assert.deepEqual(all, rows);
    const last = await stores.features.technical.range({ pair: 'ETH/USD', interval_s: 60 }, { order: 'desc', limit: 10_020 });
    assert.deepEqual(last, rows.slice(n - 10_020).reverse());
  } finally {
    await stores.close();
    await deleteIndices(node, indexPrefix);
  }
});
