/** File replay with an injected clock and sleep: N× speed, real speed, as fast as possible. */
import { testData } from '../fixtures/test-data.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplaySource } from '../../src/sources/replay.ts';
import type { Trade } from '../../src/contracts/messages.ts';
import type { TradeSink } from '../../src/sources/types.ts';
import { readTradeCsv } from '../../src/sources/trade-csv.ts';

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

test('closing ticks: every pair gets a heartbeat when the event clock reaches a window end + grace, whatever the heartbeat rate; no heartbeat makes a later trade late', async () => {
  // Real XBT/USD trades, the first 10 minutes at real speed (virtual clock), as two pairs (the second a copy 20 s later).
  const src: Trade[] = [];
  for await (const b of readTradeCsv(XBTUSD)) src.push(...b.trades);
  const t0 = (src[0] as Trade).ts_ms;
  const ten = src.filter((t) => t.ts_ms < t0 + 10 * 60_000);
  const first = (ten[0] as Trade).pair;
  const trades = [...ten, ...ten.map((t) => ({ ...t, pair: 'ETH/USD', trade_id: `e${t.trade_id}`, ts_ms: t.ts_ms + 20_000 }))].sort((a, b) => a.ts_ms - b.ts_ms);
  const GRACE = 5000;
  type Ev = { kind: 'trade' | 'beat'; pair: string; ts: number; eventClock: number };
  const run = async (closeTicks: boolean): Promise<Ev[]> => {
    const { clock, sleep } = virtualTime();
    const w0 = clock();
    const evs: Ev[] = [];
    await new ReplaySource(() => trades, { speed: 1, clock, sleep, heartbeatMs: 1000, ...(closeTicks ? { closeTicks: { intervalMs: 60_000, graceMs: GRACE } } : {}) }).run({
      trades: async (b) => void evs.push(...b.map((t): Ev => ({ kind: 'trade', pair: t.pair, ts: t.ts_ms, eventClock: t0 + (clock() - w0) }))),
      heartbeat: async (h) => void evs.push({ kind: 'beat', pair: h.pair, ts: h.ts_ms, eventClock: t0 + (clock() - w0) }),
      reject: () => undefined,
    });
    return evs;
  };
  /** Per pair and window end E: how long after E + grace (event clock) the first trade or heartbeat at or after it was sent. */
  const waits = (evs: Ev[]) => {
    const out: number[] = [];
    for (const pair of [first, 'ETH/USD']) {
      const own = evs.filter((e) => e.pair === pair);
      const last = Math.max(...own.filter((e) => e.kind === 'trade').map((e) => e.ts));
      for (let end = Math.ceil(t0 / 60_000) * 60_000; end + GRACE < last; end += 60_000) {
        const closer = own.find((e) => e.ts >= end + GRACE) as Ev;
        out.push(closer.eventClock - (end + GRACE));
      }
    }
    return out;
  };
  const withTicks = await run(true);
  const without = await run(false);
  const a = waits(withTicks);
  const b = waits(without);
  assert.ok(a.length >= 16, `windows: ${a.length}`);
  // Virtual time: with ticks each window's closing event is sent at its grace end (to the ms); without, a quiet pair waits.
  assert.ok(Math.max(...a) <= 1, `with closing ticks, at most 1 ms after the grace end: ${JSON.stringify(a)}`);
  assert.ok(Math.max(...b) > 100, `without them some window waits for the next regular heartbeat: ${JSON.stringify(b)}`);
  // The same trades in the same order; no heartbeat of a pair is past a trade of that pair sent after it.
  const tradesOf = (evs: Ev[]) => evs.filter((e) => e.kind === 'trade').map((e) => `${e.pair}|${e.ts}`);
  assert.deepEqual(tradesOf(withTicks), tradesOf(without));
  const hb = new Map<string, number>();
  for (const e of withTicks) {
    if (e.kind === 'beat') hb.set(e.pair, Math.max(hb.get(e.pair) ?? -Infinity, e.ts));
    else assert.ok(e.ts >= (hb.get(e.pair) ?? -Infinity), `trade ${e.pair} ${e.ts} after a heartbeat at ${hb.get(e.pair)}`);
  }
});
