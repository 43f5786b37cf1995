// The embedded run's order-book path (issue 22.4): the book service replays the bundled
// recording (data/sample/book: real Binance BTCUSDT diffs, MIT) into the SQLite feature store
// and onto the bus, and GET /v1/features/book serves the rows.
// Reference: a plain book (a Map per side) folded from the recording's snapshot and every diff
// after it, read at each minute's last event: its best bid and ask give the mid and spread
// at the close that the stored rows must carry; the minutes are those the events close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Bus } from '../../src/bus/bus.ts';
import { MemoryTransport } from '../../src/bus/memory.ts';
import { openStores } from '../../src/stores/index.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import type { BookFeatures } from '../../src/contracts/messages.ts';
import { BUNDLED_BOOK_RECORDING, bookService } from '../../src/pipeline/book-service.ts';
import { buildApi } from '../../src/api/api-plugin.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import { bookFeaturesFromStore } from '../../src/api/book-features.ts';

const logger = pino({ level: 'silent' });

/** Minute end -> best bid and ask after the minute's last diff, from a plain book. */
function plainReference(): Map<number, { bid: number; ask: number }> {
  const lines = gunzipSync(readFileSync(BUNDLED_BOOK_RECORDING)).toString('utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { source: string; text: string });
  const snap = lines.find((f) => f.source === 'binance-depth-snapshot:BTC/USDT')!;
  const s = JSON.parse(snap.text) as { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] };
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  const apply = (side: Map<number, number>, levels: [string, string][]) => {
    for (const [p, q] of levels) Number(q) === 0 ? side.delete(Number(p)) : side.set(Number(p), Number(q));
  };
  apply(bids, s.bids);
  apply(asks, s.asks);
  const out = new Map<number, { bid: number; ask: number }>();
  let lastMinuteEnd = 0;
  for (const f of lines) {
    if (f.source !== 'binance-depth') continue;
    const d = (JSON.parse(f.text) as { data: { E: number; u: number; b: [string, string][]; a: [string, string][] } }).data;
    if (d.u <= s.lastUpdateId) continue;
    const end = Math.floor(d.E / 60_000) * 60_000 + 60_000;
    apply(bids, d.b);
    apply(asks, d.a);
    out.set(end, { bid: Math.max(...bids.keys()), ask: Math.min(...asks.keys()) });
    lastMinuteEnd = end;
  }
  out.delete(lastMinuteEnd); // no later event closes the last minute
  return out;
}

test('the book service replays the bundled recording into the store and the bus; GET /v1/features/book serves it', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-book-svc-'));
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  await bus.start();
  const published: BookFeatures[] = [];
  await bus.consume({ group: 'test-book', topics: ['featuresBook'], fromBeginning: true, handler: (m) => void published.push(m) });
  const ctx: ServiceContext = { config: loadConfig({ env: { TICKCAST_DATA_DIR: dir } }), logger, bus, stores: async () => stores, signal: new AbortController().signal };
  let done!: (v: { rows: number; stored: number }) => void;
  const replayed = new Promise<{ rows: number; stored: number }>((r) => (done = r));
  const svc = bookService({ source: 'replay', onReplayed: (rows, stored) => done({ rows, stored }) });
  try {
    assert.equal(ctx.config.bookSource, 'replay', 'the embedded default');
    await svc.start(ctx);
    const r = await replayed;
    await bus.drain();
    const ref = plainReference();
    assert.ok(ref.size >= 5, `minutes in the recording: ${ref.size}`);
    const rows = await stores.features.book.range({ exchange: 'binance', pair: 'BTC/USDT', interval_s: 60 });
    assert.equal(r.rows, ref.size);
    assert.equal(r.stored, ref.size);
    assert.deepEqual(rows.map((x) => x.window_end_ms), [...ref.keys()].sort((a, b) => a - b), 'one row per minute the events close');
    for (const row of rows) {
      const { bid, ask } = ref.get(row.window_end_ms)!;
      assert.ok(Math.abs(row.features.mid_close! - (bid + ask) / 2) < 1e-6, `${new Date(row.window_end_ms).toISOString()}: mid ${row.features.mid_close} vs ${(bid + ask) / 2}`);
      assert.ok(Math.abs(row.features.spread_close! - (ask - bid)) < 1e-6, `spread ${row.features.spread_close} vs ${ask - bid}`);
      assert.ok(row.features.messages! > 0);
    }
    assert.deepEqual(published.map((p) => p.window_end_ms), rows.map((x) => x.window_end_ms), 'stored rows published on features.book');

    const app = await buildApi({ logger, cache: new LiveCache({ pairs: ['BTC/USD'] }), history: { newestFirst: async () => [] }, book: bookFeaturesFromStore(stores.features) });
    try {
      const ok = await app.inject({ method: 'GET', url: '/v1/features/book?pair=BTC/USDT&limit=3' });
      assert.equal(ok.statusCode, 200, ok.body);
      const body = ok.json() as { pair: string; exchange: string; interval_s: number; exchanges: string[]; items: BookFeatures[] };
      assert.equal(body.exchange, 'binance');
      assert.deepEqual(body.exchanges, ['binance']);
      assert.deepEqual(body.items, rows.slice(-3).reverse(), 'the newest 3 minutes, newest first, as stored');
      const none = await app.inject({ method: 'GET', url: '/v1/features/book?pair=ETH/USD' });
      assert.equal(none.statusCode, 404);
      assert.equal(none.json().error.code, 'NO_BOOK_FEATURES');
      assert.match(none.json().error.message, /BTC\/USDT \(binance\)/);
      const otherExchange = await app.inject({ method: 'GET', url: '/v1/features/book?pair=BTC/USDT&exchange=kraken' });
      assert.equal(otherExchange.statusCode, 404);
      for (const bad of ['pair=btcusdt', 'pair=BTC/USDT&limit=0', 'pair=BTC/USDT&limit=1001', 'pair=BTC/USDT&exchange=Bin%20ance', 'pair=BTC/USDT&extra=1']) {
        const res = await app.inject({ method: 'GET', url: `/v1/features/book?${bad}` });
        assert.equal(res.statusCode, 400, bad);
        assert.equal(res.json().error.code, 'INVALID_PARAMETER', bad);
      }
      const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, { get?: unknown }> };
      assert.ok(doc.paths['/v1/features/book']?.get, 'documented in the OpenAPI');
    } finally {
      await app.close();
    }
  } finally {
    await svc.stop();
    await bus.close();
    await stores.close();
    await rm(dir, { recursive: true, force: true });
  }
});
