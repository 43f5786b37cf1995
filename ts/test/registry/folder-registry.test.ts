import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderRegistry } from '../../src/registry/folder-registry.ts';
import { registerCandidate } from '../../src/registry/promotion.ts';
import { registryContract, metaWith } from './registry-contract.ts';

registryContract({
  name: 'folder',
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'tickcast-registry-'));
    return { registry: folderRegistry(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
  },
});

test('folder: the layout on disk is <dataDir>/models/<version>/{model.txt,meta.json,report.html} + production.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-registry-'));
  try {
    const r = folderRegistry(dir);
    await registerCandidate(r, metaWith('v1', { model: 9, persistence: 10 }), 'MODEL', '<html></html>');
    assert.deepEqual((await readdir(join(dir, 'models', 'v1'))).sort(), ['meta.json', 'model.txt', 'report.html']);
    assert.equal(await readFile(join(dir, 'models', 'v1', 'model.txt'), 'utf8'), 'MODEL');
    const alias = JSON.parse(await readFile(join(dir, 'models', 'production.json'), 'utf8'));
    assert.equal(alias['BTC/USD'].version, 'v1');
    assert.equal(JSON.parse(await readFile(join(dir, 'models', 'v1', 'meta.json'), 'utf8')).status, 'production');
    // A fresh registry over the same folder sees the same state (nothing kept only in memory).
    assert.equal(await folderRegistry(dir).production('BTC/USD'), 'v1');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
