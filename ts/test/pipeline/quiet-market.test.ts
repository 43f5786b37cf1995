/**
 * The quiet-market case: when no trade arrives, the candles service still
 * closes the minute once the (estimated) clock passes its end plus the grace
 * period, and then keeps the series without holes (flat filled candles).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Candle, Trade } from '../../src/contracts/messages.ts';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import type { Config } from '../../src/config/config.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import { candlesService } from '../../src/pipeline/candles-service.ts';
import { silentLogger } from '../sources/helpers.ts';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const trade = (id: number, sec: number, price: number): Trade => ({ exchange: 'kraken', pair: 'BTC/USD', trade_id: String(id), price, qty: 0.5, side: 'buy', ts_ms: T0 + sec * 1000 });

test('a quiet market: the last minute closes on the clock plus grace, then flat filled candles follow', async () => {
  let wall = 1_000_000; // the injected wall clock (ms)
  const bus = new Bus(new MemoryTransport({ logger: silentLogger }), { logger: silentLogger });
  await bus.start();
  const got: Candle[] = [];
  await bus.consume({ group: 'test', topics: ['candles'], fromBeginning: true, handler: (c: Candle) => void got.push(c) });
  const ctx: ServiceContext = { config: {} as Config, logger: silentLogger, bus, stores: async () => { throw new Error('unused'); }, signal: new AbortController().signal };
  const svc = candlesService({ graceMs: 5000, quietCheckMs: 10, clock: () => wall });
  await svc.start(ctx);
  await bus.publish('trades', [trade(1, 10, 100), trade(2, 30, 101), trade(3, 50, 99)]);
  await bus.drain();
  const tick = () => new Promise((r) => setTimeout(r, 60));
  await tick();
  assert.equal(got.length, 0, 'nothing closes while the clock is inside the minute');
  wall += 10_000 + 4_000; // last trade at :50; clock now :64, watermark :59 < :60
  await tick();
  await bus.drain();
  assert.equal(got.length, 0, 'not before end + grace');
  wall += 2_000; // clock :66, watermark :61 >= :60
  await tick();
  await bus.drain();
  assert.equal(got.length, 1, 'the minute closes without another trade');
  const c = got[0]!;
  assert.deepEqual([c.open, c.high, c.low, c.close, c.trade_count, c.filled], [100, 101, 99, 99, 3, false]);
  assert.equal(c.window_end_ms, T0 + 60_000);
  wall += 120_000; // two more quiet minutes
  await tick();
  await bus.drain();
  assert.equal(got.length, 3);
  for (const f of got.slice(1)) assert.deepEqual([f.open, f.high, f.low, f.close, f.volume, f.trade_count, f.filled], [99, 99, 99, 99, 0, 0, true]);
  assert.deepEqual(got.map((x) => x.window_end_ms - T0), [60_000, 120_000, 180_000], 'no holes');
  await svc.stop();
  await bus.close();
});
