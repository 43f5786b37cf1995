/**
 * CandleStage.pushMany with string ids (the ids crossing as one concatenated
 * text when they are all ASCII, one by one otherwise) gives what push() gives
 * trade by trade: the same candles, duplicates and late trades, for ASCII
 * synthetic ids, non-ASCII ids, and a mix with canonical decimal ids, cut
 * into batches at random.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Trade } from '../../src/contracts/messages.ts';
import { CandleStage, type StageOutput } from '../../src/pipeline/candle-stage.ts';
import { mulberry32 } from '../fixtures/rng.ts';

const T0 = Date.UTC(2024, 7, 8, 23, 54);

function trades(seed: number, idOf: (i: number) => string): Trade[] {
  const rnd = mulberry32(seed);
  const out: Trade[] = [];
  let ts = T0;
  let price = 100;
  for (let i = 0; i < 4000; i++) {
    ts += Math.floor(rnd() * 4000);
    price *= 1 + (rnd() - 0.5) * 0.002;
    // Some out of order (a few beyond the 5 s grace: late), some repeated ids (duplicates).
    const at = rnd() < 0.02 ? ts - Math.floor(rnd() * 20_000) : ts;
    const id = rnd() < 0.02 && i > 10 ? idOf(i - 1 - Math.floor(rnd() * 10)) : idOf(i);
    out.push({ exchange: 'kraken', pair: rnd() < 0.5 ? 'BTC/USD' : 'ETH/USD', trade_id: id, price, qty: 0.1 + rnd(), side: rnd() < 0.5 ? 'buy' : 'sell', ts_ms: at });
  }
  return out;
}

const summary = (outs: StageOutput[]) => ({
  candles: outs.flatMap((o) => o.candles),
  duplicates: outs.reduce((n, o) => n + o.duplicates, 0),
  late: outs.flatMap((o) => o.late.map((l) => [l.trade.trade_id, l.window_start_ms, l.duplicate])),
  rejected: outs.flatMap((o) => o.rejected.map((r) => r.trade.trade_id)),
});

for (const [name, idOf] of [
  ['ASCII synthetic ids', (i: number) => `month.csv:${i}`],
  ['non-ASCII ids', (i: number) => `é€-${i}`],
  ['canonical and other ids mixed', (i: number) => (i % 3 === 0 ? String(1000 + i) : `x${i}`)],
] as const) {
  test(`pushMany equals push trade by trade: ${name}`, () => {
    const ts = trades(name.length, idOf);
    const one = new CandleStage();
    const single = summary(ts.map((t) => one.push(t)));
    const rnd = mulberry32(3);
    const many = new CandleStage();
    const outs: StageOutput[] = [];
    for (let i = 0; i < ts.length; ) {
      const n = 1 + Math.floor(rnd() * 700);
      outs.push(many.pushMany(ts.slice(i, i + n)));
      i += n;
    }
    const batched = summary(outs);
    assert.ok(single.candles.length > 50 && single.duplicates > 0 && single.late.length > 0, 'the scenario has candles, duplicates and late trades');
    // Batches report late trades per batch after their candles: compare as sets of outcomes, candles in order.
    assert.deepEqual(batched.candles, single.candles);
    assert.equal(batched.duplicates, single.duplicates);
    assert.deepEqual(batched.late, single.late);
    assert.deepEqual(batched.rejected, single.rejected);
  });
}
