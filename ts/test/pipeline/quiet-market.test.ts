/**
 * The quiet-market case: when no trade arrives, the candles service still
 * closes the minute once the source's event clock (its heartbeats on the
 * `trades` stream) passes its end plus the grace period, and then keeps the
 * series without holes (flat filled candles). Time comes from the stream
 * only: without heartbeats nothing closes, however long the wait.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Candle, Trade, TradeHeartbeat } from '../../src/contracts/messages.ts';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import type { Config } from '../../src/config/config.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import { candlesService } from '../../src/pipeline/candles-service.ts';
import { ReplaySource } from '../../src/sources/replay.ts';
import { silentLogger } from '../sources/helpers.ts';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const trade = (id: number, sec: number, price: number): Trade => ({ exchange: 'kraken', pair: 'BTC/USD', trade_id: String(id), price, qty: 0.5, side: 'buy', ts_ms: T0 + sec * 1000 });
const beat = (sec: number, final = false): TradeHeartbeat => ({ kind: 'heartbeat', exchange: 'kraken', pair: 'BTC/USD', ts_ms: T0 + sec * 1000, final });

async function setup() {
  const bus = new Bus(new MemoryTransport({ logger: silentLogger }), { logger: silentLogger });
  await bus.start();
  const got: Candle[] = [];
  await bus.consume({ group: 'test', topics: ['candles'], fromBeginning: true, handler: (c: Candle) => void got.push(c) });
  const ctx: ServiceContext = { config: {} as Config, logger: silentLogger, bus, stores: async () => { throw new Error('unused'); }, signal: new AbortController().signal };
  const svc = candlesService({ graceMs: 5000 });
  await svc.start(ctx);
  return { bus, got, svc };
}

test('a quiet market: the last minute closes on the source heartbeats plus grace, then flat filled candles follow', async () => {
  const { bus, got, svc } = await setup();
  await bus.publish('trades', [trade(1, 10, 100), trade(2, 30, 101), trade(3, 50, 99)]);
  await bus.drain();
  assert.equal(got.length, 0, 'nothing closes while event time is inside the minute');
  await bus.publish('trades', [beat(64)]); // watermark :59 < :60
  await bus.drain();
  assert.equal(got.length, 0, 'not before end + grace');
  await bus.publish('trades', [beat(66)]); // watermark :61 >= :60
  await bus.drain();
  assert.equal(got.length, 1, 'the minute closes without another trade');
  const c = got[0]!;
  assert.deepEqual([c.open, c.high, c.low, c.close, c.trade_count, c.filled], [100, 101, 99, 99, 3, false]);
  assert.equal(c.window_end_ms, T0 + 60_000);
  await bus.publish('trades', [beat(186)]); // two more quiet minutes
  await bus.drain();
  assert.equal(got.length, 3);
  for (const f of got.slice(1)) assert.deepEqual([f.open, f.high, f.low, f.close, f.volume, f.trade_count, f.filled], [99, 99, 99, 99, 0, 0, true]);
  assert.deepEqual(got.map((x) => x.window_end_ms - T0), [60_000, 120_000, 180_000], 'no holes');
  // A trade of an already closed minute after the heartbeats: late (reported), not merged.
  const dead: string[] = [];
  await bus.consumeDeadLetters({ group: 'dlq', topics: ['trades'], fromBeginning: true, handler: (d) => void dead.push(d.reason) });
  await bus.publish('trades', [trade(4, 179, 98)]);
  await bus.drain();
  assert.equal(got.length, 3);
  assert.equal(dead.length, 1);
  assert.match(dead[0]!, /^late: window starting 2024-01-01T12:02:00.000Z already closed/);
  await svc.stop();
  await bus.close();
});

test('a stalled stream closes nothing: without trades or heartbeats no window closes, whatever the wall time', async () => {
  const { bus, got, svc } = await setup();
  await bus.publish('trades', [trade(1, 10, 100), trade(2, 50, 101)]);
  await bus.drain();
  // The service reads no clock; wait several of its former quiet-check periods of real time anyway.
  await new Promise((r) => setTimeout(r, 1500));
  await bus.drain();
  assert.equal(got.length, 0, 'the open minute stays open while the stream says nothing');
  // The stream resumes with the trades that were on their way: they belong to the open minute.
  await bus.publish('trades', [trade(3, 55, 102), beat(70)]);
  await bus.drain();
  assert.equal(got.length, 1);
  assert.deepEqual([got[0]!.trade_count, got[0]!.close], [3, 102]);
  await svc.stop();
  await bus.close();
});

test('a replayed quiet stretch: the replay heartbeats close the quiet minutes on time, before the next trade; the final heartbeat closes what the data covers', async () => {
  const { bus, got, svc } = await setup();
  let wall = 0;
  const seenAtLastTrade: number[] = [];
  const src = new ReplaySource(() => [trade(1, 10, 100), trade(2, 50, 101), trade(3, 290, 102), trade(4, 300, 103)], {
    speed: 1,
    clock: () => wall,
    sleep: async (ms) => {
      wall += ms;
    },
    heartbeatMs: 1000,
  });
  await src.run({
    trades: async (batch) => {
      if (batch.some((t) => t.trade_id === '3')) {
        await bus.drain();
        seenAtLastTrade.push(...got.map((c) => (c.window_end_ms - T0) / 1000));
      }
      await bus.publish('trades', batch);
    },
    heartbeat: (hb) => bus.publish('trades', [hb]),
    reject: () => assert.fail('nothing to reject'),
  });
  await bus.drain();
  // Heartbeats up to :290 (never past the next trade) minus 5 s grace: the minutes ending by :285.
  assert.deepEqual(seenAtLastTrade, [60, 120, 180, 240], 'the quiet minutes closed before the next trade arrived');
  assert.deepEqual(got.slice(1, 4).map((c) => c.filled), [true, true, true]);
  // The final heartbeat at the last trade (:300) closes the minute ending at :300, as a backfill does.
  assert.deepEqual(got.map((c) => (c.window_end_ms - T0) / 1000), [60, 120, 180, 240, 300]);
  assert.deepEqual([got[4]!.trade_count, got[4]!.close], [1, 102]);
  await svc.stop();
  await bus.close();
});
