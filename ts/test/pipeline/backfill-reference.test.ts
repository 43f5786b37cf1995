/**
 * `backfill --file` at length against an independent reference: two days of
 * the real Kraken XBT/USD hour (data/sample, MIT) repeated with shifted times
 * (128,256 trades, synthetic string ids, so the aggregator's memory of the
 * ids of closed windows fills up and forgets: 65,536 per pair), plus one row
 * out of order by a day (a late trade). Every stored candle with trades is
 * checked against candles computed here from the CSV text by a plain scan
 * (open/high/low/close and counts exactly, volumes and vwap to 1e-12
 * relative), every minute with trades has its candle, the late row is
 * counted and not merged, and every feature row equals what the feature
 * stage computes from the stored candles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStores } from '../../src/stores/index.ts';
import { runBackfill } from '../../src/pipeline/backfill.ts';
import { FeatureStage, DEFAULT_FEATURES } from '../../src/pipeline/feature-stage.ts';
import { silentLogger } from '../sources/helpers.ts';
import { testData } from '../fixtures/test-data.ts';

const HOUR = 3_600_000;
const MIN = 60_000;

interface Ref {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  buy: number;
  sell: number;
  pv: number;
  n: number;
}

test('backfill --file over two days (ids forgotten along the way) equals candles computed from the CSV text, and the features of those candles', async () => {
  const lines = readFileSync(testData('trades/kraken_XBTUSD_trades_20190701T0000-0100.csv'), 'utf8').trim().split('\n');
  const header = lines[0]!;
  const cols = header.split(',');
  const [ti, ii, si, pi, ai] = ['time', 'timestamp', 'side', 'price', 'amount'].map((c) => cols.indexOf(c));
  assert.ok([ti, ii, si, pi, ai].every((i) => i! >= 0), header);
  const rows = lines.slice(1).map((l) => l.split(','));
  const out: string[] = [header];
  for (let k = 0; k < 48; k++) {
    for (const r of rows) {
      const g = r.slice();
      const ms = Number(r[ti!]) + k * HOUR;
      g[ti!] = String(ms);
      g[ii!] = new Date(ms).toISOString();
      out.push(g.join(','));
    }
  }
  // One row a day out of order: a late trade (its window closed long ago).
  const late = rows[100]!.slice();
  late[ti!] = String(Number(late[ti!]) + 3 * HOUR);
  late[ii!] = new Date(Number(late[ti!])).toISOString();
  out.push(late.join(','));
  const trades = out.length - 2;

  // The reference: per minute, in file order, from the text (the late row excluded).
  const ref = new Map<number, Ref>();
  let lastMs = 0;
  for (const l of out.slice(1, -1)) {
    const c = l.split(',');
    const ms = Number(c[ti!]);
    const p = Number(c[pi!]);
    const q = Number(c[ai!]);
    lastMs = Math.max(lastMs, ms);
    const w = ms - (ms % MIN);
    let x = ref.get(w);
    if (!x) ref.set(w, (x = { open: p, high: p, low: p, close: p, volume: 0, buy: 0, sell: 0, pv: 0, n: 0 }));
    x.high = Math.max(x.high, p);
    x.low = Math.min(x.low, p);
    x.close = p;
    x.volume += q;
    x.pv += p * q;
    if (c[si!] === 'buy') x.buy += q;
    else x.sell += q;
    x.n++;
  }
  // The last trade's own window stays open.
  ref.delete(lastMs - (lastMs % MIN));

  const dir = mkdtempSync(join(tmpdir(), 'tickcast-backfill-ref-'));
  const file = join(dir, 'kraken_XBTUSD_2days.csv');
  writeFileSync(file, `${out.join('\n')}\n`);
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, silentLogger);
  try {
    const r = await runBackfill({ exchange: 'kraken', pair: 'BTC/USD', file, checkpointPath: join(dir, 'cp.json'), stores, logger: silentLogger });
    assert.equal(r.trades, trades + 1);
    assert.equal(r.late, 1, 'the out-of-order row is late');
    assert.equal(r.duplicates, 0);
    assert.equal(r.rejected, 0);
    const candles = await stores.features.candles.range({ pair: 'BTC/USD', interval_s: 60 });
    assert.equal(candles.length, r.candles);
    const withTrades = candles.filter((c) => c.trade_count > 0);
    assert.deepEqual(
      withTrades.map((c) => c.window_start_ms),
      [...ref.keys()].sort((a, b) => a - b),
      'a candle for every minute with trades, none for others (besides filled ones)',
    );
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
    for (const c of withTrades) {
      const x = ref.get(c.window_start_ms)!;
      const at = new Date(c.window_start_ms).toISOString();
      assert.deepEqual([c.open, c.high, c.low, c.close, c.trade_count, c.filled], [x.open, x.high, x.low, x.close, x.n, false], at);
      assert.equal(c.window_end_ms, c.window_start_ms + MIN);
      close(c.volume, x.volume, `volume ${at}`);
      close(c.buy_volume, x.buy, `buy volume ${at}`);
      close(c.sell_volume, x.sell, `sell volume ${at}`);
      close(c.vwap, x.pv / x.volume, `vwap ${at}`);
    }
    for (const c of candles.filter((c) => c.trade_count === 0)) assert.equal(c.filled, true);

    const stage = new FeatureStage(60, DEFAULT_FEATURES);
    const expected = candles.map((c) => stage.onCandle(c)).flatMap((o) => (o.kind === 'row' ? [o.row] : []));
    // Through the store's JSON (-0 is stored as 0).
    assert.deepStrictEqual(await stores.features.technical.range({ pair: 'BTC/USD', interval_s: 60 }), JSON.parse(JSON.stringify(expected)));
  } finally {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
