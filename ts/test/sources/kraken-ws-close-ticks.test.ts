/**
 * Closing ticks of the Kraken source (issue 21.4) over a real socket: the fake
 * Kraken plays real trades, then goes quiet and sends no heartbeat frame. With
 * closeTicks the source still sends every pair's heartbeat each time Kraken's
 * estimated clock reaches a window end + grace (here windows of 1 s, grace
 * 200 ms, so the test runs in seconds), never behind a pair's last trade;
 * without them a quiet connection closes nothing until Kraken's next
 * heartbeat frame.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Trade, TradeHeartbeat } from '../../src/contracts/messages.ts';
import { KrakenWsSource } from '../../src/sources/kraken-ws.ts';
import { loadKrakenTape } from '../fixtures/kraken-tape.ts';
import { KrakenFake } from '../fixtures/kraken-fake.ts';
import { WaitingSink, silentLogger } from './helpers.ts';

const PAIRS = ['BTC/USD', 'ETH/USD'];
const tape = loadKrakenTape({ btc: 60, eth: 30 });

class BeatSink extends WaitingSink {
  readonly beats: (TradeHeartbeat & { atMs: number })[] = [];
  async heartbeat(h: TradeHeartbeat): Promise<void> {
    this.beats.push({ ...h, atMs: Date.now() });
  }
}

async function quietRun(closeTicks: boolean): Promise<{ beats: BeatSink['beats']; received: Trade[] }> {
  // Heartbeat frames once an hour: none during the test.
  const fake = await KrakenFake.start({ tape, batch: 10, tickMs: 2, heartbeatMs: 3_600_000 });
  const src = new KrakenWsSource({ pairs: PAIRS, url: fake.wsUrl, restBaseUrl: fake.restUrl, logger: silentLogger, deadAfterMs: 60_000, ...(closeTicks ? { closeTicks: { intervalMs: 1000, graceMs: 200 } } : {}) });
  const sink = new BeatSink();
  const running = src.run(sink);
  try {
    await sink.until(() => sink.received.length === tape.length, 'every trade of the tape');
    await fake.finished;
    const quietFrom = sink.beats.length;
    await new Promise((r) => setTimeout(r, 2600));
    return { beats: sink.beats.slice(quietFrom), received: sink.received };
  } finally {
    await src.stop();
    await running;
    await fake.close();
  }
}

test('kraken closing ticks: while the connection is quiet, every pair gets a heartbeat at each window end + grace on Kraken\'s clock, never behind its last trade', async () => {
  const on = await quietRun(true);
  const off = await quietRun(false);
  assert.equal(off.beats.length, 0, 'without closing ticks a quiet connection sends no heartbeat');
  // 2.6 s of silence: at least two ticks, each a heartbeat for every pair.
  const rounds = new Set(on.beats.map((b) => Math.floor((b.ts_ms - 200) / 1000)));
  assert.ok(rounds.size >= 2, `ticks during the silence: ${JSON.stringify(on.beats.map((b) => b.ts_ms))}`);
  for (const pair of PAIRS) assert.ok(on.beats.filter((b) => b.pair === pair).length >= 2, `${pair} heartbeats`);
  const last = new Map<string, number>();
  for (const t of on.received) last.set(t.pair, Math.max(last.get(t.pair) ?? 0, t.ts_ms));
  for (const b of on.beats) {
    assert.ok(b.ts_ms >= (last.get(b.pair) as number), `${b.pair} heartbeat ${b.ts_ms} not behind its last trade ${last.get(b.pair)}`);
    assert.equal(b.final, false);
    // At a tick: Kraken's clock just past a window end + grace (the source's estimate; timers fire late by a few ms).
    const past = (((b.ts_ms - 200) % 1000) + 1000) % 1000;
    assert.ok(b.ts_ms === last.get(b.pair) || past < 100, `${b.pair} heartbeat ${b.ts_ms}: ${past} ms past a tick`);
  }
});
