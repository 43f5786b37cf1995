/**
 * `GET /v1/models/production` from the services as registered (`tickcast run api`, a real
 * process): the API reads the model registry of its configuration, the one the trainer
 * promotes into and the predictor loads from. A model promoted in the folder registry of
 * TICKCAST_DATA_DIR is served; a pair without one answers 404.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderRegistry } from '../../src/registry/folder-registry.ts';
import { registerCandidate } from '../../src/registry/promotion.ts';
import { metaWith } from '../registry/registry-contract.ts';
import { TickcastProcess } from '../fixtures/tickcast-process.ts';

test('tickcast run api: GET /v1/models/production serves the model promoted in the registry of TICKCAST_DATA_DIR', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tickcast-prodmodel-'));
  const registry = folderRegistry(dataDir);
  const before = Date.now();
  // Overall RMSE 9 (model) vs 10 (persistence): promoted. metaWith sets mae = 0.8 rmse, mape 0.1, direction 0.5, n 100.
  const meta = { ...metaWith('btc-v1', { model: 9, persistence: 10 }), data: { from_ms: 1_475_798_400_000, to_ms: 1_476_057_540_000, rows: 4000, sha256: 'cd'.repeat(32), dropped: {}, source: 'test' } };
  const decision = await registerCandidate(registry, meta, '{"model":"text"}\n', null);
  assert.equal(decision.status, 'production');
  const after = Date.now();
  await registry.close();

  const proc = TickcastProcess.start(['run', 'api'], {
    TICKCAST_DATA_DIR: dataDir,
    TICKCAST_HTTP_HOST: '127.0.0.1',
    TICKCAST_HTTP_PORT: '0',
    TICKCAST_API_PORT: '0',
    TICKCAST_PAIRS: 'BTC/USD,ETH/USD',
  });
  try {
    const url = await proc.apiUrl();
    for (const path of ['/v1/models/production?pair=BTC/USD', '/v1/models/production']) {
      const r = await fetch(`${url}${path}`);
      assert.equal(r.status, 200, path);
      const body = (await r.json()) as Record<string, unknown>;
      const promoted = body.promoted_at_ms as number;
      assert.ok(promoted >= before && promoted <= after, `promoted_at_ms ${promoted} is the promotion time`);
      assert.deepEqual(
        { ...body, promoted_at_ms: 0 },
        {
          pair: 'BTC/USD',
          model_name: 'tickcast-ridge',
          model_version: 'btc-v1',
          metrics: {
            n: 100, mae: 7.2, rmse: 9, mape: 0.1, directional_accuracy: 0.5,
            baseline_n: 100, baseline_mae: 8, baseline_rmse: 10, baseline_mape: 0.1, baseline_directional_accuracy: 0.5,
          },
          trained_from_ms: 1_475_798_400_000,
          trained_to_ms: 1_476_057_540_000,
          promoted_at_ms: 0,
          features: ['rsi_14', 'roc_10'],
        },
        path,
      );
    }
    const eth = await fetch(`${url}/v1/models/production?pair=ETH/USD`);
    assert.equal(eth.status, 404);
    assert.equal(((await eth.json()) as { error: { code: string } }).error.code, 'NO_PRODUCTION_MODEL');
    const unknown = await fetch(`${url}/v1/models/production?pair=SOL/USD`);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'UNKNOWN_PAIR');
  } finally {
    const { code } = await proc.stop();
    assert.equal(code, 0, `graceful exit; stderr: ${proc.stderr.slice(-2000)}`);
  }
});
