/** The store contract on the embedded SQLite backend, plus SQLite specifics (WAL, data folder). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { register } from 'prom-client';
import { openStores } from '../../src/stores/index.ts';
import { storeContract, type StoreFactory } from './store-contract.ts';

const logger = pino({ level: 'silent' });

const sqliteFactory: StoreFactory = {
  name: 'sqlite',
  async create() {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickcast-stores-'));
    return {
      open: () => openStores({ kind: 'sqlite', dataDir }, logger),
      dispose: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
    };
  },
};

storeContract(sqliteFactory);

test('sqlite: creates the data folder, uses WAL, one row per natural key in the file', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tickcast-stores-'));
  const dataDir = path.join(root, 'nested', 'data');
  try {
    const stores = await openStores({ kind: 'sqlite', dataDir }, logger);
    const row = { pair: 'BTC/USD', interval_s: 60, window_end_ms: 1_723_161_300_000, close: 61_700.5, features: { rsi_14: 55.5 } };
    await stores.features.technical.write([row, row, { ...row, close: 61_701 }]);
    await stores.close();
    const file = path.join(dataDir, 'tickcast-stores.sqlite');
    assert.ok(fs.existsSync(file), 'database file in the data folder');
    // Read the file with a separate connection: the independent view of what is stored.
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      const rows = db.prepare('SELECT id, doc FROM "features_technical"').all() as { id: string; doc: string }[];
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.id, 'BTC/USD|60|1723161300000');
      assert.equal(JSON.parse(rows[0]?.doc ?? '{}').close, 61_701);
    } finally {
      db.close();
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('sqlite: each batch write is recorded in tickcast_store_write_seconds{store="sqlite",op=<series>}', async () => {
  const count = async (): Promise<number> => {
    const m = register.getSingleMetric('tickcast_store_write_seconds');
    if (!m) return 0;
    const v = (await m.get()).values.find(
      (x) => (x as { metricName?: string }).metricName === 'tickcast_store_write_seconds_count' && x.labels.store === 'sqlite' && x.labels.op === 'predictions',
    );
    return v?.value ?? 0;
  };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickcast-stores-'));
  try {
    const stores = await openStores({ kind: 'sqlite', dataDir }, logger);
    const before = await count();
    const p = { pair: 'BTC/USD', made_at_ms: 1_723_161_300_000, target_ms: 1_723_161_600_000, horizon_s: 300, predicted_price: 61_700, last_close: 61_690, model_name: 'lgbm', model_version: 'v1' };
    await stores.predictions.predictions.write([p]);
    await stores.predictions.predictions.write([p, { ...p, made_at_ms: p.made_at_ms + 60_000 }]);
    assert.equal((await count()) - before, 2);
    await stores.close();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('sqlite: a new file has 16 KiB pages; a file made with 4 KiB pages keeps them and stays readable and writable', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tickcast-stores-'));
  const row = { pair: 'BTC/USD', interval_s: 60, window_end_ms: 1_723_161_300_000, close: 61_700.5, features: { rsi_14: 55.5 } };
  const pageSize = (file: string): number => {
    const db = new Database(file, { readonly: true });
    try {
      return db.pragma('page_size', { simple: true }) as number;
    } finally {
      db.close();
    }
  };
  try {
    const fresh = path.join(root, 'fresh');
    const a = await openStores({ kind: 'sqlite', dataDir: fresh }, logger);
    await a.features.technical.write([row]);
    await a.close();
    assert.equal(pageSize(path.join(fresh, 'tickcast-stores.sqlite')), 16384);

    // An older file: created (WAL) with SQLite's default 4 KiB pages, one row in it.
    const old = path.join(root, 'old');
    fs.mkdirSync(old);
    const oldFile = path.join(old, 'tickcast-stores.sqlite');
    const db = new Database(oldFile);
    db.pragma('page_size = 4096');
    db.pragma('journal_mode = WAL');
    db.close();
    const b = await openStores({ kind: 'sqlite', dataDir: old }, logger);
    await b.features.technical.write([row]);
    await b.close();
    const c = await openStores({ kind: 'sqlite', dataDir: old }, logger);
    await c.features.technical.write([{ ...row, window_end_ms: row.window_end_ms + 60_000 }]);
    assert.deepEqual(
      (await c.features.technical.range({ pair: 'BTC/USD', interval_s: 60 })).map((r) => r.window_end_ms),
      [row.window_end_ms, row.window_end_ms + 60_000],
    );
    await c.close();
    assert.equal(pageSize(oldFile), 4096);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
