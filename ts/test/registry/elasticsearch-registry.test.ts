// The registry contract on the real Elasticsearch test node (TICKCAST_TEST_ES_URL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { elasticsearchRegistry } from '../../src/registry/elasticsearch-registry.ts';
import { registerCandidate } from '../../src/registry/promotion.ts';
import { registryContract, metaWith } from './registry-contract.ts';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/registry/elasticsearch-registry.test.ts';
function esUrl(): string {
  const url = process.env.TICKCAST_TEST_ES_URL;
  if (!url) throw new Error(`TICKCAST_TEST_ES_URL is not set: ${HOW}`);
  return url;
}
const prefix = () => `tickcast-test-${randomBytes(4).toString('hex')}-`;

async function dropIndex(node: string, index: string): Promise<void> {
  const c = new Client({ node });
  try {
    await c.indices.delete({ index, ignore_unavailable: true });
  } finally {
    await c.close();
  }
}

registryContract({
  name: 'elasticsearch',
  async create() {
    const node = esUrl();
    const p = prefix();
    return { registry: elasticsearchRegistry({ node, indexPrefix: p }), dispose: () => dropIndex(node, `${p}models`) };
  },
});

test('elasticsearch: index <prefix>models, doc id = version, the alias is a doc', async () => {
  const node = esUrl();
  const p = prefix();
  const r = elasticsearchRegistry({ node, indexPrefix: p });
  const c = new Client({ node });
  try {
    await registerCandidate(r, metaWith('v1', { model: 9, persistence: 10 }), 'MODEL', null);
    const doc = await c.get<{ doc_type: string; status: string; blob: { model_text: string } }>({ index: `${p}models`, id: 'v1' });
    assert.equal(doc._source?.doc_type, 'version');
    assert.equal(doc._source?.status, 'production');
    assert.equal(doc._source?.blob.model_text, 'MODEL');
    const alias = await c.get<{ doc_type: string; blob: { alias: { version: string } } }>({ index: `${p}models`, id: 'production|BTC/USD' });
    assert.equal(alias._source?.blob.alias.version, 'v1');
  } finally {
    await r.close();
    await c.close();
    await dropIndex(node, `${p}models`);
  }
});
