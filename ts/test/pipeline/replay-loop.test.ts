/**
 * The offline embedded run's trade replay (loopingFileInput) stands in for the live market:
 * every pass, the first too, starts in the minute before "now" (an injected clock) and after
 * the previous pass, by whole minutes, so each pass carries the file's own trades and candles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Trade } from '../../src/contracts/messages.ts';
import { bundledSampleFiles, loopingFileInput } from '../../src/pipeline/ingest-service.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';

const FILE = join(REPO_ROOT, 'data/sample/trades/kraken_XBTUSD_trades_20190701T0000-0100.csv');

/** The file's trade times (ms) and prices, read plainly (ccxt layout: time in ms is column 3, price column 6). */
function fileRows(): { ts: number; price: number }[] {
  return readFileSync(FILE, 'utf8').trim().split('\n').slice(1).map((l) => {
    const c = l.split(',');
    return { ts: Number(c[3]), price: Number(c[6]) };
  });
}

async function passes(n: number, clock: () => number): Promise<Trade[]> {
  const out: Trade[] = [];
  for await (const t of loopingFileInput(FILE, n, clock)((raw, kind) => assert.fail(`rejected ${kind}: ${raw}`))) out.push(t);
  return out;
}

test('every pass of the looping replay starts now, after the previous pass, shifted by whole minutes', async () => {
  assert.ok(bundledSampleFiles().includes(FILE), 'the bundled sample is the file replayed by make run');
  const rows = fileRows();
  const n = rows.length;
  const first = rows[0]!.ts;
  const last = rows[n - 1]!.ts;
  // Wall clock: 2026-12-03 18:00:30.5 at the first pass; at the second pass it has moved on by 5 minutes
  // (a fast replay: the first pass's event time is far ahead of it), at the third by 3 days (a slow one).
  const walls = [Date.UTC(2026, 11, 3, 18, 0, 30, 500), Date.UTC(2026, 11, 3, 18, 5), Date.UTC(2026, 11, 6, 18, 0)];
  let call = 0;
  const clock = () => walls[Math.min(call++, walls.length - 1)]!;
  const out = await passes(3, clock);
  assert.equal(out.length, 3 * n);
  const pass = (k: number) => out.slice(k * n, (k + 1) * n);
  const shifts = [0, 1, 2].map((k) => pass(k)[0]!.ts_ms - first);
  for (const [k, s] of shifts.entries()) {
    assert.equal(s % 60_000, 0, `pass ${k}: whole minutes`);
    pass(k).forEach((t, i) => {
      assert.equal(t.ts_ms, rows[i]!.ts + s, `pass ${k} row ${i}: the file's time, shifted`);
      assert.equal(t.price, rows[i]!.price);
    });
  }
  // Pass 0 starts in the minute before its start on the wall clock (2019 data played in 2026).
  const start0 = pass(0)[0]!.ts_ms;
  assert.ok(start0 <= walls[0]! && start0 > walls[0]! - 60_000, `first trade ${new Date(start0).toISOString()} is now`);
  // Pass 1: the wall clock (18:05) is before the end of pass 0 (about 19:00): it starts in the minute after pass 0 ends.
  const end0 = pass(0)[n - 1]!.ts_ms;
  const start1 = pass(1)[0]!.ts_ms;
  assert.ok(Math.floor(start1 / 60_000) > Math.floor(end0 / 60_000), 'pass 1 begins in a later minute than pass 0 ends');
  assert.ok(start1 - end0 < 2 * 60_000 + (first % 60_000), 'and right after it');
  // Pass 2: the wall clock jumped 3 days: it starts now again.
  const start2 = pass(2)[0]!.ts_ms;
  assert.ok(start2 <= walls[2]! && start2 > walls[2]! - 60_000, `pass 2 starts now: ${new Date(start2).toISOString()}`);
  // Ids: the first pass keeps the file's, later passes are suffixed, so nothing collides.
  assert.equal(new Set(out.map((t) => t.trade_id)).size, 3 * n);
  assert.ok(pass(1).every((t) => t.trade_id.endsWith('~1')) && pass(2).every((t) => t.trade_id.endsWith('~2')));
  assert.ok(last - first > 50 * 60_000, 'the file spans most of an hour');
});
