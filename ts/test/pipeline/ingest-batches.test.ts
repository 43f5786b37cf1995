/**
 * The producer side of TradeBatch (issue 21): the ingest service replaying
 * the bundled real Kraken hour (at 1800x, with the heartbeats at each window end) publishes runs of a pair's trades as batch
 * messages, and what a consumer of `trades` reads, batches expanded, is the
 * file's trades, each once, in file order, with every heartbeat after the
 * trades sent before it. The reference is the file read by the CSV reader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import { isHeartbeat, isTradeBatch, tradesOf, type Trade, type TradeEvent } from '../../src/contracts/messages.ts';
import type { Config } from '../../src/config/config.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import { ingestService } from '../../src/pipeline/ingest-service.ts';
import { readTradeCsv } from '../../src/sources/index.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { silentLogger } from '../sources/helpers.ts';

const FILE = join(REPO_ROOT, 'data/sample/trades/kraken_XBTUSD_trades_20190701T0000-0100.csv');

test('the ingest publishes a replay as trade batches: every trade once, in file order, heartbeats after the trades before them', async () => {
  const want: Trade[] = [];
  for await (const b of readTradeCsv(FILE)) want.push(...b.trades);
  const bus = new Bus(new MemoryTransport({ logger: silentLogger }), { logger: silentLogger });
  await bus.start();
  const got: TradeEvent[] = [];
  await bus.consume({ group: 'observer', topics: ['trades'], fromBeginning: true, handler: (m) => void got.push(m) });
  const ctx: ServiceContext = {
    config: {} as Config,
    logger: silentLogger,
    bus,
    stores: () => Promise.reject(new Error('the ingest uses no store')),
    signal: new AbortController().signal,
  };
  const svc = ingestService({ source: 'replay', pairs: ['XBT/USD'], replayFiles: [FILE], replaySpeed: 1800, closeTicks: { intervalMs: 60_000, graceMs: 5000 } });
  await svc.start(ctx);
  const deadline = Date.now() + 60_000;
  while (!got.some((e) => isHeartbeat(e) && e.final)) {
    if (Date.now() > deadline) throw new Error('the replay sent no final heartbeat within 60 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  await svc.stop();
  await bus.drain();
  await bus.close();

  const batches = got.filter(isTradeBatch);
  const trades = got.flatMap((e) => (isTradeBatch(e) ? tradesOf(e) : isHeartbeat(e) ? [] : [e]));
  assert.equal(trades.length, want.length, 'every trade of the file');
  assert.deepEqual(trades, want, 'the file order, unchanged');
  assert.ok(batches.length > 0, 'runs went as batch messages');
  // At 1800x the replay sends what came due in each short sleep (a few trades) and a heartbeat per pair at every window end.
  assert.ok(got.length < want.length / 2, `fewer messages than trades (${got.length} for ${want.length})`);
  assert.ok(got.filter(isHeartbeat).length >= 50, 'a heartbeat at least at each window end of the hour');
  assert.ok(batches.every((b) => b.trade_id.length >= 2 && b.trade_id.length <= 1000), 'batches of 2 to 1000 trades');
  // Each heartbeat promises that no later trade of its pair is older than its time minus the grace.
  let seen = 0;
  for (const e of got) {
    if (isTradeBatch(e)) seen += e.trade_id.length;
    else if (!isHeartbeat(e)) seen++;
    else {
      const later = trades.slice(seen);
      const minLater = later.length > 0 ? Math.min(...later.map((t) => t.ts_ms)) : Infinity;
      assert.ok(e.final ? minLater >= e.ts_ms : minLater >= e.ts_ms - 5000, `heartbeat at ${e.ts_ms} (final ${e.final}) is not ahead of a later trade (${minLater})`);
    }
  }
});
