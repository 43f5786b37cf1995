/**
 * The backfill is resumable after a kill (checkpoint) and idempotent: an
 * interrupted-then-resumed run and a run done twice store exactly the rows of
 * one uninterrupted run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStores } from '../../src/stores/index.ts';
import type { Stores } from '../../src/stores/types.ts';
import { runBackfill } from '../../src/pipeline/backfill.ts';
import { CsvImportSource } from '../../src/sources/index.ts';
import { silentLogger } from '../sources/helpers.ts';
import { testData } from '../fixtures/test-data.ts';

const FILE = testData('trades/kraken_XBTUSD_trades_20190701T0000-0100.csv');
const PAIR = 'BTC/USD';

async function withStores<T>(fn: (s: Stores, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-backfill-'));
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, silentLogger);
  try {
    return await fn(stores, dir);
  } finally {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = async (s: Stores) => ({
  candles: await s.features.candles.range({ pair: PAIR, interval_s: 60 }),
  features: await s.features.technical.range({ pair: PAIR, interval_s: 60 }),
});

const source = () => new CsvImportSource(FILE, { exchange: 'kraken', pair: PAIR, batchSize: 250 });

test('backfill from a real trade file: killed mid-way and resumed equals one uninterrupted run; a second run changes nothing', async () => {
  assert.ok(existsSync(FILE), `real trade file missing: ${FILE}`);
  const full = await withStores(async (s, dir) => {
    const r = await runBackfill({ exchange: 'kraken', pair: PAIR, file: FILE, checkpointPath: join(dir, 'cp.json'), stores: s, logger: silentLogger, source: source() });
    assert.equal(r.trades, 2672);
    assert.ok(r.candles >= 59, `an hour of trades gives about 59 closed candles, got ${r.candles}`);
    const once = await rows(s);
    // Idempotent: the same backfill again (fresh checkpoint) leaves exactly the same rows.
    await runBackfill({ exchange: 'kraken', pair: PAIR, file: FILE, checkpointPath: join(dir, 'cp2.json'), stores: s, logger: silentLogger, source: source() });
    assert.deepStrictEqual(await rows(s), once, 'a second run must not add or change rows');
    return once;
  });

  const resumed = await withStores(async (s, dir) => {
    const cp = join(dir, 'cp.json');
    const ac = new AbortController();
    let batches = 0;
    await assert.rejects(
      runBackfill({
        exchange: 'kraken', pair: PAIR, file: FILE, checkpointPath: cp, stores: s, logger: silentLogger, source: source(), signal: ac.signal,
        onProgress: () => { if (++batches === 4) ac.abort(); },
      }),
      /aborted/,
    );
    assert.ok(existsSync(cp), 'a checkpoint was written before the kill');
    const partial = await rows(s);
    assert.ok(partial.candles.length > 0 && partial.candles.length < full.candles.length, 'the kill happened mid-way');
    const r = await runBackfill({ exchange: 'kraken', pair: PAIR, file: FILE, checkpointPath: cp, stores: s, logger: silentLogger, source: source() });
    assert.equal(r.resumed, true);
    return rows(s);
  });
  assert.deepStrictEqual(resumed.candles, full.candles, 'candles after resume');
  assert.deepStrictEqual(resumed.features, full.features, 'features after resume');
});

test('backfill of a file on the fast path (Rust rows, no Trade objects): the rows of the general reader; killed after a checkpoint and resumed, the same', async () => {
  const full = await withStores(async (s, dir) => {
    await runBackfill({ exchange: 'kraken', pair: PAIR, file: FILE, checkpointPath: join(dir, 'cp.json'), stores: s, logger: silentLogger, source: source() });
    return rows(s);
  });
  const fast = await withStores(async (s, dir) => {
    const r = await runBackfill({ exchange: 'kraken', pair: PAIR, file: FILE, checkpointPath: join(dir, 'cp.json'), stores: s, logger: silentLogger, fileBatch: 300 });
    assert.equal(r.trades, 2672);
    return rows(s);
  });
  assert.deepStrictEqual(fast, full, 'fast path = general reader');

  const resumed = await withStores(async (s, dir) => {
    const cp = join(dir, 'cp.json');
    const ac = new AbortController();
    let batches = 0;
    let delivered = 0;
    await assert.rejects(
      runBackfill({
        exchange: 'kraken', pair: PAIR, file: FILE, checkpointPath: cp, stores: s, logger: silentLogger, fileBatch: 300, checkpointEveryMs: 0, signal: ac.signal,
        onProgress: (p) => {
          delivered = p.trades;
          if (++batches === 4) ac.abort();
        },
      }),
      /aborted/,
    );
    const saved = JSON.parse(readFileSync(cp, 'utf8')) as { consumed: number };
    // The first data row alone (the general reader reads it: it names the ccxt pair), then
    // batches of 300; the next one was read (on the thread pool) but is neither stored nor in
    // the checkpoint.
    assert.equal(delivered, 901);
    assert.equal(saved.consumed, delivered, 'checkpointed after the 4th batch');
    const partial = await rows(s);
    assert.ok(partial.candles.length > 0 && partial.candles.length < full.candles.length, 'the kill happened mid-way');
    const r = await runBackfill({ exchange: 'kraken', pair: PAIR, file: FILE, checkpointPath: cp, stores: s, logger: silentLogger, fileBatch: 700 });
    assert.equal(r.resumed, true);
    assert.equal(r.trades, 2672);
    return rows(s);
  });
  assert.deepStrictEqual(resumed, full, 'fast path killed and resumed = one run');
});

test('backfill of a broken file on the fast path: the same rows, rejects and counts as the general reader', async () => {
  // The real file with every 7th line broken in turn: spaces, a zero price, a cut field, a bad side, a blank line, a line twice, CRLF.
  const lines = readFileSync(FILE, 'utf8').trim().split('\n');
  const broken = lines.map((l, i) => {
    if (i === 0 || i % 7 !== 3) return l;
    const c = l.split(',');
    switch ((i / 7) % 6 | 0) {
      case 0: c[6] = ` ${c[6]}`; break;
      case 1: c[6] = '0'; break;
      case 2: c.splice(7, 1); break;
      case 3: c[5] = 'b'; break;
      case 4: return `${l}\n\n${l}`;
      default: return `${l}\r`;
    }
    return c.join(',');
  });
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-backfill-broken-'));
  const file = join(dir, 'kraken_XBTUSD_broken.csv');
  writeFileSync(file, `${broken.join('\n')}\n`);
  try {
    const run = (src: boolean) =>
      withStores(async (s, d) => {
        const r = await runBackfill({
          exchange: 'kraken', pair: PAIR, file, checkpointPath: join(d, 'cp.json'), stores: s, logger: silentLogger, fileBatch: 500,
          ...(src ? { source: new CsvImportSource(file, { exchange: 'kraken', pair: PAIR, batchSize: 500 }) } : {}),
        });
        return { r, rows: await rows(s) };
      });
    const general = await run(true);
    const fast = await run(false);
    assert.ok(general.r.rejected > 100, `rejects made: ${general.r.rejected}`);
    assert.deepStrictEqual({ ...fast.r, resumed: false }, { ...general.r, resumed: false });
    assert.deepStrictEqual(fast.rows, general.rows);
    // --from/--to: rows outside are read (and counted as consumed) but not aggregated, on both paths.
    const first = Date.parse('2019-07-01T00:10:00Z');
    const range = { fromMs: first, toMs: first + 25 * 60_000 };
    const ranged = (src: boolean) =>
      withStores(async (s, d) => {
        const r = await runBackfill({
          exchange: 'kraken', pair: PAIR, file, checkpointPath: join(d, 'cp.json'), stores: s, logger: silentLogger, fileBatch: 400, ...range,
          ...(src ? { source: new CsvImportSource(file, { exchange: 'kraken', pair: PAIR, batchSize: 400 }) } : {}),
        });
        return { r, rows: await rows(s) };
      });
    const g2 = await ranged(true);
    const f2 = await ranged(false);
    assert.ok(g2.r.trades > 500 && g2.r.trades < general.r.trades, `${g2.r.trades} trades in the range`);
    assert.equal(g2.rows.candles.length, 25);
    assert.deepStrictEqual({ ...f2.r, resumed: false }, { ...g2.r, resumed: false });
    assert.deepStrictEqual(f2.rows, g2.rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
