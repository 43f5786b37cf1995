/** File replay with an injected clock and sleep: N× speed, real speed, as fast as possible. */
import { testData } from '../fixtures/test-data.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplaySource } from '../../src/sources/replay.ts';
import type { Trade } from '../../src/contracts/messages.ts';
import type { TradeSink } from '../../src/sources/types.ts';

const XBTUSD = testData('trades/kraken_XBTUSD_trades_20190701T0000-0100.csv');

function virtualTime() {
  const v = { now: 1_000_000, sleeps: [] as number[] };
  return { v, clock: () => v.now, sleep: async (ms: number) => void (v.sleeps.push(ms), (v.now += ms)) };
}

class TimedSink implements TradeSink {
  readonly at: { t: Trade; now: number }[] = [];
  readonly rejected: string[] = [];
  constructor(private readonly clock: () => number) {}
  async trades(batch: Trade[]) {
    for (const t of batch) this.at.push({ t, now: this.clock() });
  }
  reject(_raw: string, reason: string) {
    this.rejected.push(reason);
  }
}

for (const speed of [1, 10, 600]) {
  test(`speed ${speed}x: each trade is emitted at start + (ts - ts0) / ${speed} on the injected clock`, async () => {
    const { v, clock, sleep } = virtualTime();
    const start = v.now;
    const sink = new TimedSink(clock);
    await ReplaySource.fromFile(XBTUSD, { speed, clock, sleep }).run(sink);
    assert.equal(sink.at.length, 2672);
    const t0 = sink.at[0]!.t.ts_ms;
    for (const { t, now } of sink.at) assert.ok(Math.abs(now - (start + (t.ts_ms - t0) / speed)) < 1e-6, `trade ${t.trade_id}: at ${now - start}`);
    const span = Date.parse('2019-07-01T00:59:51.213Z') - Date.parse('2019-07-01T00:00:03.172Z'); // from the data README
    assert.ok(Math.abs(v.now - start - span / speed) < 1e-6);
    assert.ok(v.sleeps.every((s) => s > 0));
  });
}

test("speed 'max': no sleeping, order kept, batches bounded", async () => {
  const { v, clock, sleep } = virtualTime();
  const batches: number[] = [];
  const got: Trade[] = [];
  await ReplaySource.fromFile(XBTUSD, { speed: 'max', clock, sleep, maxBatch: 500 }).run({
    trades: async (b) => void (batches.push(b.length), got.push(...b)),
    reject: () => assert.fail('no rejects expected'),
  });
  assert.deepEqual(v.sleeps, []);
  assert.equal(got.length, 2672);
  assert.ok(batches.every((n) => n <= 500));
  assert.ok(got.every((t, i) => i === 0 || t.ts_ms >= got[i - 1]!.ts_ms), 'file order is time order');
});

test('replays a gzip Binance recording; stop() ends a real-speed replay early', async () => {
  const got: Trade[] = [];
  await ReplaySource.fromFile(testData('ws-messages/binance_spot_ethusdt_20240808_head3000+trades.gz'), { speed: 'max' }).run({ trades: async (b) => void got.push(...b), reject: () => undefined });
  assert.equal(got.length, 6106); // trade lines stated in the data README
  const { clock, sleep } = virtualTime();
  let src: ReplaySource | null = null;
  const seen: Trade[] = [];
  src = ReplaySource.fromFile(XBTUSD, { speed: 1, clock, sleep });
  await src.run({ trades: async (b) => void (seen.push(...b), seen.length >= 100 && void src!.stop()), reject: () => undefined });
  assert.ok(seen.length >= 100 && seen.length < 2672, `stopped after ${seen.length}`);
  assert.throws(() => new ReplaySource(() => [], { speed: 0 }), /speed/);
});
