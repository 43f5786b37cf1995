/**
 * Trades of the same event time keep the exchange's order inside a candle, for every trade
 * file format without trade ids (their rows get synthetic string ids, which the aggregator
 * only hashes): the candles that the import (backfill --file) and the replay (make run) paths
 * make from a real file equal candles recomputed by hand from the file's text, where the open
 * is the first row of the minute's earliest time and the close the last row of its latest time
 * (file order = exchange order).
 *
 * Formats: bitcoincharts (Bitstamp BTC/USD 2011-12, whole seconds: 188 of its 3,747 candles
 * have an open or close decided by the order of same-second rows), ccxt (Kraken XBT/USD 2019,
 * ms) and kraken-rest (Kraken ETH/USD 2022, decimal seconds; in these two no such tie decides
 * a candle, so they check the path, not the order), and kraken-history (Kraken's headerless
 * `unix_time,price,volume` download: the Kraken ETH/USD tape written in that layout with whole
 * seconds, as Kraken's downloads have: 31 of 83 candles decided by a tie). The formats with
 * ids (kraken-rest-id, binance, mtgox) order ties by id.
 */
import { testData } from '../fixtures/test-data.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Candle, Trade } from '../../src/contracts/messages.ts';
import { CandleStage } from '../../src/pipeline/candle-stage.ts';
import { CsvImportSource, ReplaySource, detectCsvFormat } from '../../src/sources/index.ts';
import type { TradeSink } from '../../src/sources/types.ts';

const tradeFile = (file: string) => testData(`trades/${file}`);
const MIN = 60_000;

/** One row of a file as the reference reads it: event time (ms), price and amount as numbers. */
interface Row {
  ts: number;
  price: number;
  qty: number;
}

/** Decimal seconds text to ms, truncated below the ms, by string slicing. */
const secText = (s: string): number => {
  const [whole, frac = ''] = s.split('.');
  return Number(whole) * 1000 + Number(`${frac}000`.slice(0, 3));
};

/** The rows of a file, in file order, read plainly (no code shared with the parsers). */
function plainRows(path: string, layout: 'bitcoincharts' | 'ccxt' | 'kraken-rest' | 'kraken-history'): Row[] {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const data = layout === 'kraken-history' ? lines : lines.slice(1);
  return data.map((l) => {
    const c = l.split(',');
    switch (layout) {
      case 'bitcoincharts':
      case 'kraken-history':
        return { ts: secText(c[0]!), price: Number(c[1]), qty: Number(c[2]) };
      case 'ccxt':
        return { ts: Number(c[3]), price: Number(c[6]), qty: Number(c[7]) };
      case 'kraken-rest':
        return { ts: secText(c[2]!), price: Number(c[0]), qty: Number(c[1]) };
    }
  });
}

interface RefCandle {
  start: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  count: number;
  /** The open or the close is decided by file order among rows of the same ms with other prices. */
  tieDecides: boolean;
}

/** Candles with trades, by hand: rows grouped by minute; first/last by (time, file position). A row of quantity 0 is no trade. */
function referenceCandles(rows: Row[]): RefCandle[] {
  const byMinute = new Map<number, Row[]>();
  for (const r of rows) {
    if (!(r.qty > 0)) continue;
    const start = Math.floor(r.ts / MIN) * MIN;
    const list = byMinute.get(start) ?? [];
    list.push(r);
    byMinute.set(start, list);
  }
  const out: RefCandle[] = [];
  for (const [start, list] of [...byMinute].sort((a, b) => a[0] - b[0])) {
    const minTs = Math.min(...list.map((r) => r.ts));
    const maxTs = Math.max(...list.map((r) => r.ts));
    const atMin = list.filter((r) => r.ts === minTs);
    const atMax = list.filter((r) => r.ts === maxTs);
    let volume = 0;
    for (const r of list) volume += r.qty;
    out.push({
      start,
      open: atMin[0]!.price,
      close: atMax[atMax.length - 1]!.price,
      high: Math.max(...list.map((r) => r.price)),
      low: Math.min(...list.map((r) => r.price)),
      volume,
      count: list.length,
      tieDecides: new Set(atMin.map((r) => r.price)).size > 1 || new Set(atMax.map((r) => r.price)).size > 1,
    });
  }
  return out;
}

/** Runs a source into the candle stage (as the candles service and backfill do), closes every window, returns the candles with trades. */
async function candlesOf(run: (sink: TradeSink) => Promise<void>, zeroQtyRows = 0): Promise<Candle[]> {
  const stage = new CandleStage();
  const candles: Candle[] = [];
  let maxTs = 0;
  const rejected: string[] = [];
  await run({
    async trades(batch: Trade[]) {
      for (const t of batch) maxTs = Math.max(maxTs, t.ts_ms);
      const out = stage.pushMany(batch);
      assert.equal(out.late.length + out.duplicates + out.rejected.length, 0, 'a time-ordered file has no late, duplicate or rejected trade');
      for (const c of out.candles) if (!c.filled) candles.push(c);
    },
    reject(raw: string, reason: string) {
      rejected.push(`${reason}: ${raw}`);
    },
  });
  assert.equal(rejected.length, zeroQtyRows, `only the rows of quantity 0 are rejected: ${rejected.join('; ')}`);
  for (const r of rejected) assert.match(r, /^bad_qty/);
  for (const c of stage.advance(maxTs + 2 * MIN)) if (!c.filled) candles.push(c);
  return candles;
}

function compare(what: string, got: Candle[], ref: RefCandle[]): void {
  assert.equal(got.length, ref.length, `${what}: one candle per minute with trades`);
  for (let i = 0; i < ref.length; i++) {
    const g = got[i]!;
    const r = ref[i]!;
    const at = `${what}: candle ${new Date(r.start).toISOString()}`;
    assert.equal(g.window_start_ms, r.start, at);
    assert.deepEqual([g.open, g.high, g.low, g.close, g.trade_count], [r.open, r.high, r.low, r.close, r.count], at);
    assert.ok(Math.abs(g.volume - r.volume) <= 1e-9 * r.volume, `${at}: volume ${g.volume} vs ${r.volume}`);
  }
}

const FILES = [
  { name: 'bitcoincharts: Bitstamp BTC/USD 2011-12', file: 'bitstamp_BTCUSD_trades_20110913-20120531.csv', layout: 'bitcoincharts', minTies: 100 },
  { name: 'ccxt: Kraken XBT/USD 2019-07-01', file: 'kraken_XBTUSD_trades_20190701T0000-0100.csv', layout: 'ccxt', minTies: 0 },
  { name: 'kraken-rest: Kraken ETH/USD 2022-03-20', file: 'kraken_ETHUSD_trades_20220320T1018-1207.csv', layout: 'kraken-rest', minTies: 0 },
] as const;

/** Kraken's history-download layout (no header, whole seconds), written from the real Kraken ETH/USD tape. */
function krakenHistoryFile(): string {
  const src = tradeFile('kraken_ETHUSD_trades_20220320T1018-1207.csv');
  const lines = readFileSync(src, 'utf8').split(/\r?\n/).slice(1).filter((l) => l.trim() !== '');
  const body = lines.map((l) => {
    const [price, volume, time] = l.split(',');
    return `${time!.split('.')[0]},${price},${volume}`;
  });
  const path = join(mkdtempSync(join(tmpdir(), 'tickcast-tie-')), 'kraken_ETHUSD_history.csv');
  writeFileSync(path, `${body.join('\n')}\n`);
  assert.equal(detectCsvFormat(body[0]!)?.format, 'kraken-history');
  return path;
}

const cases = [...FILES.map((f) => ({ ...f, path: tradeFile(f.file) }))];

for (const c of cases) {
  test(`${c.name}: import and replay candles equal candles by hand from the file (same-ms trades in file order)`, async () => {
    const rows = plainRows(c.path, c.layout);
    const zero = rows.filter((r) => !(r.qty > 0)).length;
    const ref = referenceCandles(rows);
    const ties = ref.filter((r) => r.tieDecides).length;
    assert.ok(ties >= c.minTies, `${c.name}: ${ties} candles whose open or close depends on the order of same-ms trades`);
    compare(`${c.name} (import)`, await candlesOf((sink) => new CsvImportSource(c.path).run(sink), zero), ref);
    compare(`${c.name} (replay)`, await candlesOf((sink) => ReplaySource.fromFile(c.path, { speed: 'max' }).run(sink), zero), ref);
  });
}

test('kraken-history (headerless, whole seconds): import and replay candles equal candles by hand', async () => {
  const path = krakenHistoryFile();
  const opts = { exchange: 'kraken', pair: 'ETH/USD' };
  const ref = referenceCandles(plainRows(path, 'kraken-history'));
  const ties = ref.filter((r) => r.tieDecides).length;
  assert.ok(ties >= 20, `${ties} candles whose open or close depends on the order of same-second trades`);
  compare('kraken-history (import)', await candlesOf((sink) => new CsvImportSource(path, opts).run(sink)), ref);
  compare('kraken-history (replay)', await candlesOf((sink) => ReplaySource.fromFile(path, { speed: 'max', ...opts }).run(sink)), ref);
});

test('Bitstamp 2011-10-26 12:16 UTC: rows at 1319631404 (2.72 then 3.00) give open 2.72, close 3.00', async () => {
  const path = tradeFile('bitstamp_BTCUSD_trades_20110913-20120531.csv');
  const raw = readFileSync(path, 'utf8').split('\n');
  const at = raw.filter((l) => l.startsWith('1319631404,'));
  assert.deepEqual(at.map((l) => Number(l.split(',')[1])), [2.72, 3], 'the file holds the two rows of the issue, in this order');
  const candles = await candlesOf((sink) => new CsvImportSource(path).run(sink), 1); // one row of the file has amount 0
  const c = candles.find((x) => x.window_start_ms === Date.UTC(2011, 9, 26, 12, 16));
  assert.ok(c, 'the 12:16 candle');
  assert.equal(c.open, 2.72);
  assert.equal(c.close, 3);
});

test('a hand-made kraken-history file: three trades in one second, open/close by file order whatever the ids hash to', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-tie-'));
  // Several file keys, so the synthetic ids hash differently; the order in the file must win.
  for (const key of ['a.csv', 'b.csv', 'XETHZUSD.csv', 'zz']) {
    const path = join(dir, key);
    writeFileSync(path, '1700000000,10.5,1\n1700000000,9.5,2\n1700000000,11.5,3\n1700000001,12,1\n1700000001,8,1\n');
    const got = await candlesOf((sink) => new CsvImportSource(path, { exchange: 'kraken', pair: 'BTC/USD' }).run(sink));
    assert.equal(got.length, 1);
    assert.deepEqual([got[0]!.open, got[0]!.high, got[0]!.low, got[0]!.close, got[0]!.trade_count], [10.5, 12, 8, 8, 5], key);
  }
});
