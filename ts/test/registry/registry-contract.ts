// The registry cases both backends must pass (folder and Elasticsearch):
// promotion rules, rejection reasons, rollback, listing, round trips. Not a test file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelRegistry } from '../../src/registry/model-registry.ts';
import type { ModelMeta } from '../../src/registry/model-meta.ts';
import { registerCandidate } from '../../src/registry/promotion.ts';

export interface RegistryFactory {
  name: string;
  /** A fresh, empty registry and how to dispose of it. */
  create(): Promise<{ registry: ModelRegistry; dispose(): Promise<void> }>;
}

const m = (rmse: number) => ({ n: 100, mae: rmse * 0.8, rmse, mape: 0.1, directional_accuracy: 0.5 });

/** A meta with the given overall RMSEs (model vs persistence vs current). */
export function metaWith(version: string, o: { model: number; persistence: number; current?: number; compared_with?: string | null; pair?: string; created_ms?: number }): ModelMeta {
  return {
    version,
    model_name: 'tickcast-ridge',
    kind: 'ridge',
    pair: o.pair ?? 'BTC/USD',
    created_ms: o.created_ms ?? 1_700_000_000_000,
    status: 'candidate',
    reason: 'trained',
    feature_names: ['rsi_14', 'roc_10'],
    technical_features: ['rsi_14', 'roc_10'],
    sentiment_features: [],
    target: 'log_return',
    horizon_s: 300,
    interval_s: 60,
    params: { lambda: 0.001 },
    data: { from_ms: 1, to_ms: 2, rows: 10, sha256: 'ab'.repeat(32), dropped: { warming_up: 3, no_target: 5 }, source: 'test' },
    evaluation: {
      folds: [],
      overall: { model: m(o.model), persistence: m(o.persistence), ...(o.current !== undefined ? { current: m(o.current) } : {}) },
      compared_with: o.compared_with ?? null,
    },
    library_versions: { node: process.versions.node },
    code_commit: 'unknown',
  };
}

export function registryContract(f: RegistryFactory): void {
  const run = (name: string, fn: (r: ModelRegistry) => Promise<void>) =>
    test(`${f.name}: ${name}`, async () => {
      const { registry, dispose } = await f.create();
      try {
        await fn(registry);
      } finally {
        await registry.close();
        await dispose();
      }
    });

  run('a first model that beats persistence becomes production; model text round-trips', async (r) => {
    const res = await registerCandidate(r, metaWith('v1', { model: 9, persistence: 10 }), '{"text":1}\n', '<html>report</html>');
    assert.equal(res.promote, true);
    assert.equal(res.status, 'production');
    assert.equal(await r.production('BTC/USD'), 'v1');
    const stored = await r.load('v1');
    assert.equal(stored?.modelText, '{"text":1}\n');
    assert.equal(stored?.meta.data.sha256, 'ab'.repeat(32));
    assert.deepEqual(stored?.meta.feature_names, ['rsi_14', 'roc_10']);
    assert.equal(await r.report('v1'), '<html>report</html>');
  });

  run('a model that does not beat persistence is kept as rejected with the reason', async (r) => {
    const res = await registerCandidate(r, metaWith('v1', { model: 10.5, persistence: 10 }), 'x', null);
    assert.equal(res.promote, false);
    assert.equal(res.status, 'rejected');
    assert.match(res.reason, /does not beat persistence/);
    assert.equal(await r.production('BTC/USD'), null);
    assert.equal((await r.meta('v1'))?.status, 'rejected');
    // A tie is not a win.
    const tie = await registerCandidate(r, metaWith('v2', { model: 10, persistence: 10 }), 'x', null);
    assert.equal(tie.status, 'rejected');
  });

  run('beats persistence but not the current production model: rejected; beats both: promoted, old one retired', async (r) => {
    await registerCandidate(r, metaWith('v1', { model: 9, persistence: 10 }), 'a', null);
    const worse = await registerCandidate(r, metaWith('v2', { model: 9.5, persistence: 10, current: 9.2, compared_with: 'v1', created_ms: 1_700_000_000_001 }), 'b', null);
    assert.equal(worse.status, 'rejected');
    assert.match(worse.reason, /does not beat the current production model v1/);
    assert.equal(await r.production('BTC/USD'), 'v1');
    const noCurrent = await registerCandidate(r, metaWith('v2b', { model: 8, persistence: 10, compared_with: 'v1' }), 'b', null);
    assert.equal(noCurrent.status, 'rejected', 'a comparison without the current model metrics cannot promote');
    const stale = await registerCandidate(r, metaWith('v2c', { model: 8, persistence: 10, current: 9 }), 'b', null);
    assert.equal(stale.status, 'rejected', 'evaluated against no production while v1 is production');
    assert.match(stale.reason, /production changed/);
    const better = await registerCandidate(r, metaWith('v3', { model: 8.9, persistence: 10, current: 9.1, compared_with: 'v1', created_ms: 1_700_000_000_002 }), 'c', null);
    assert.equal(better.status, 'production');
    assert.equal(await r.production('BTC/USD'), 'v3');
    assert.equal((await r.meta('v1'))?.status, 'retired');
    const listed = (await r.list('BTC/USD')).map((x) => x.version);
    assert.equal(listed[0], 'v3', 'newest first');
    assert.equal(listed.length, 5);
  });

  run('rollback restores the previous production model; with none it fails', async (r) => {
    await assert.rejects(r.rollback('BTC/USD'), (e: Error & { code?: string }) => e.code === 'NO_PREVIOUS');
    await registerCandidate(r, metaWith('v1', { model: 9, persistence: 10 }), 'a', null);
    await assert.rejects(r.rollback('BTC/USD'), /no earlier production model/);
    await registerCandidate(r, metaWith('v2', { model: 8, persistence: 10, current: 9, compared_with: 'v1' }), 'b', null);
    const rb = await r.rollback('BTC/USD');
    assert.deepEqual(rb, { from: 'v2', to: 'v1' });
    assert.equal(await r.production('BTC/USD'), 'v1');
    assert.equal((await r.meta('v2'))?.status, 'rolled_back');
    assert.equal((await r.meta('v1'))?.status, 'production');
    // Promote by command puts v2 back.
    await r.promote('v2', 'manual');
    assert.equal(await r.production('BTC/USD'), 'v2');
    assert.equal((await r.meta('v1'))?.status, 'retired');
  });

  run('pairs have separate production aliases; unknown versions are not found', async (r) => {
    await registerCandidate(r, metaWith('btc1', { model: 9, persistence: 10 }), 'a', null);
    await registerCandidate(r, metaWith('eth1', { model: 9, persistence: 10, pair: 'ETH/USD' }), 'b', null);
    assert.equal(await r.production('BTC/USD'), 'btc1');
    assert.equal(await r.production('ETH/USD'), 'eth1');
    assert.equal(await r.production('SOL/USD'), null);
    assert.deepEqual((await r.list('ETH/USD')).map((x) => x.version), ['eth1']);
    assert.equal(await r.load('nope'), null);
    await assert.rejects(r.promote('nope', 'x'), /no model version nope/);
    await assert.rejects(r.save(metaWith('btc1', { model: 1, persistence: 2 }), 'again'), /exists already/);
  });

  run('each target has its own production alias per pair; its rule decides; rollback per target', async (r) => {
    const vol = (version: string, model: number, o: { compared_with?: string | null; current?: number } = {}): ModelMeta => {
      const base = metaWith(version, { model: 1, persistence: 2 });
      return {
        ...base,
        target: 'volatility',
        kind: 'lightgbm',
        evaluation: {
          folds: [],
          overall: {},
          scores: { model: { n: 100, qlike: model }, persistence: { n: 100, qlike: 0.9 }, ewma: { n: 100, qlike: 0.7 }, har_rv: { n: 100, qlike: 0.6 }, ...(o.current !== undefined ? { current: { n: 100, qlike: o.current } } : {}) },
          compared_with: o.compared_with ?? null,
        },
      };
    };
    await registerCandidate(r, metaWith('p1', { model: 9, persistence: 10 }), 'a', null);
    const bad = await registerCandidate(r, vol('vol0', 0.65), 'x', null);
    assert.equal(bad.status, 'rejected');
    assert.match(bad.reason, /does not beat baseline har_rv: QLIKE 0.650000 >= 0.600000/);
    const v1 = await registerCandidate(r, vol('vol1', 0.55), 'y', null);
    assert.equal(v1.status, 'production', v1.reason);
    assert.equal(await r.production('BTC/USD'), 'p1', 'the price alias is untouched');
    assert.equal(await r.production('BTC/USD', 'volatility'), 'vol1');
    assert.equal(await r.production('BTC/USD', 'range'), null);
    const worse = await registerCandidate(r, vol('vol2', 0.58, { compared_with: 'vol1', current: 0.55 }), 'z', null);
    assert.equal(worse.status, 'rejected');
    assert.match(worse.reason, /does not beat the current production model vol1/);
    await registerCandidate(r, vol('vol3', 0.5, { compared_with: 'vol1', current: 0.55 }), 'w', null);
    assert.equal(await r.production('BTC/USD', 'volatility'), 'vol3');
    assert.deepEqual(await r.rollback('BTC/USD', Date.now(), 'volatility'), { from: 'vol3', to: 'vol1' });
    assert.equal(await r.production('BTC/USD', 'volatility'), 'vol1');
    assert.equal(await r.production('BTC/USD'), 'p1');
    assert.deepEqual((await r.list('BTC/USD', 'volatility')).map((x) => x.version).sort(), ['vol0', 'vol1', 'vol2', 'vol3']);
  });
}
