/**
 * CSV import of every sample trade file, checked against facts stated in the data README
 * (counts, sides, id ranges, a Bitstamp daily total published by the exchange) and against
 * plain re-reads of the files; the headerless Kraken trade-history format; synthetic ids.
 */
import { REPO_ROOT } from '../fixtures/paths.ts';
import { testData } from '../fixtures/test-data.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvImportSource, decimalSecondsToMs, detectCsvFormat, inferFromFileName, readTradeCsv, type TradeCsvOptions } from '../../src/sources/trade-csv.ts';
import type { Trade } from '../../src/contracts/messages.ts';
import { Topics } from '../../src/contracts/messages.ts';
import { WaitingSink } from './helpers.ts';

const tradeFile = (file: string) => testData(`trades/${file}`);

async function readAll(path: string, opts: TradeCsvOptions = {}) {
  const trades: Trade[] = [];
  const rejects: { raw: string; kind: string }[] = [];
  for await (const b of readTradeCsv(path, opts)) {
    trades.push(...b.trades);
    rejects.push(...b.rejects);
  }
  return { trades, rejects };
}

const rows = (path: string) => readFileSync(path, 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(','));
const count = (ts: Trade[], side: string) => ts.filter((t) => t.side === side).length;
const uniqueKeys = (ts: Trade[]) => new Set(ts.map((t) => Topics.trades.naturalKey(t))).size;

test('Kraken XBT/USD (ccxt export): 2672 trades, 1549 buy / 1123 sell, values as written', async () => {
  const path = tradeFile('kraken_XBTUSD_trades_20190701T0000-0100.csv');
  const { trades, rejects } = await readAll(path);
  assert.deepEqual(rejects, []);
  assert.equal(trades.length, 2672);
  assert.equal(count(trades, 'buy'), 1549);
  assert.equal(count(trades, 'sell'), 1123);
  assert.equal(uniqueKeys(trades), 2672, 'synthetic ids are unique, also for the row that occurs twice');
  rows(path).forEach((c, i) => {
    assert.deepEqual(trades[i], { exchange: 'kraken', pair: 'BTC/USD', trade_id: `kraken_XBTUSD_trades_20190701T0000-0100.csv:${i}`, price: Number(c[6]), qty: Number(c[7]), side: c[5], ts_ms: Date.parse(c[4]!) });
  });
  const volume = trades.reduce((s, t) => s + t.qty, 0);
  assert.ok(Math.abs(volume - 903.7) < 0.01, `volume ${volume} vs README 903.70 BTC`);
  assert.equal(trades[0]!.price, 10749.4);
  assert.equal(trades.at(-1)!.price, 11014.3);
});

test('Kraken ETH/USD (REST page as CSV, CRLF): 1000 trades, 250 b / 750 s', async () => {
  const { trades, rejects } = await readAll(tradeFile('kraken_ETHUSD_trades_20220320T1018-1207.csv'));
  assert.deepEqual(rejects, []);
  assert.equal(trades.length, 1000);
  assert.equal(count(trades, 'buy'), 250);
  assert.equal(count(trades, 'sell'), 750);
  assert.ok(trades.every((t) => t.pair === 'ETH/USD' && t.exchange === 'kraken'));
  assert.equal(new Date(trades[0]!.ts_ms).toISOString(), '2022-03-20T10:18:44.902Z');
  // README rounds to 12:07:17.55; the row says 1647778037.546233 and ts_ms truncates below the ms
  assert.equal(new Date(trades.at(-1)!.ts_ms).toISOString(), '2022-03-20T12:07:17.546Z');
  assert.equal(Math.min(...trades.map((t) => t.price)), 2870.84);
  assert.equal(Math.max(...trades.map((t) => t.price)), 2924.54);
});

test('Kraken XBT/USDT (with trade ids): ids 10218208..10219207, 578 b / 422 s, times match time_utc', async () => {
  const path = tradeFile('kraken_XBTUSDT_trades_20251110.csv');
  const { trades } = await readAll(path);
  assert.equal(trades.length, 1000);
  assert.deepEqual(trades.map((t) => Number(t.trade_id)), Array.from({ length: 1000 }, (_, i) => 10218208 + i));
  assert.equal(count(trades, 'buy'), 578);
  assert.equal(trades[0]!.pair, 'BTC/USDT');
  rows(path).forEach((c, i) => assert.equal(trades[i]!.ts_ms, Date.parse(c[1]!)));
});

test('Bitstamp (bitcoincharts): 9999 rows, one zero-size rejected; 2011-09-13 = 12 trades, 58.37138238 BTC, VWAP 5.92923 (published daily figures)', async () => {
  const { trades, rejects } = await readAll(tradeFile('bitstamp_BTCUSD_trades_20110913-20120531.csv'));
  // 9,999 rows; one (2012-05-21) has amount 0.000000000000, which the Trade contract (qty > 0) rejects
  assert.equal(trades.length, 9998);
  assert.deepEqual(rejects.map((r) => [r.kind, r.raw]), [['bad_qty', '1337596081,5.080000000000,0.000000000000']]);
  assert.ok(trades.every((t) => t.exchange === 'bitstamp' && t.pair === 'BTC/USD' && t.side === 'unknown'));
  const day = trades.filter((t) => new Date(t.ts_ms).toISOString().startsWith('2011-09-13'));
  assert.equal(day.length, 12);
  const vol = day.reduce((s, t) => s + t.qty, 0);
  assert.ok(Math.abs(vol - 58.37138238) < 1e-8, `volume ${vol}`);
  const vwap = day.reduce((s, t) => s + t.qty * t.price, 0) / vol;
  assert.ok(Math.abs(vwap - 5.92923) < 5e-6, `vwap ${vwap}`);
  const may29 = trades.filter((t) => new Date(t.ts_ms).toISOString().startsWith('2012-05-29'));
  assert.equal(may29.length, 317);
});

test('Mt.Gox: 2331 trades, id = µs timestamp, strictly increasing', async () => {
  const { trades } = await readAll(tradeFile('mtgox_BTCUSD_trades_20130101.csv'));
  assert.equal(trades.length, 2331);
  assert.equal(new Date(trades[0]!.ts_ms).toISOString(), '2013-01-01T00:04:19.486Z');
  // id 1357084711193969 µs: README rounds to .194, ts_ms truncates to .193
  assert.equal(new Date(trades.at(-1)!.ts_ms).toISOString(), '2013-01-01T23:58:31.193Z');
  assert.ok(trades.every((t, i) => i === 0 || Number(t.trade_id) > Number(trades[i - 1]!.trade_id)));
});

test('Binance CSV: 19904 BTC/USDT trades, is_buyer_maker true = sell', async () => {
  const path = tradeFile('binance_spot_BTCUSDT_trades_20240808T2354-20240809T0005.csv');
  const { trades } = await readAll(path);
  assert.equal(trades.length, 19904);
  assert.equal(trades[0]!.pair, 'BTC/USDT');
  assert.equal(trades[0]!.exchange, 'binance');
  const r = rows(path);
  assert.equal(count(trades, 'sell'), r.filter((c) => c[7] === 'true').length);
});

test('headerless Kraken trade history (unix_time,price,volume): synthetic ids stable across imports, bad rows rejected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-csv-'));
  const path = join(dir, 'XBTUSD.csv');
  // rows copied from the Bitstamp file (same format minus header), plus bad rows
  const src = readFileSync(tradeFile('bitstamp_BTCUSD_trades_20110913-20120531.csv'), 'utf8').split('\n').slice(1, 6);
  writeFileSync(path, [src[0], src[1], '1315922100,abc,1', '1315922101,5.9,-2', src[2], src[3], src[4], ''].join('\n'));
  assert.deepEqual(detectCsvFormat(src[0]!), { format: 'kraken-history', header: false });
  assert.deepEqual(inferFromFileName(path), { pair: 'BTC/USD' });
  const a = await readAll(path, { exchange: 'kraken' });
  const b = await readAll(path, { exchange: 'kraken' });
  assert.deepEqual(a, b);
  assert.deepEqual(a.trades.map((t) => t.trade_id), ['XBTUSD.csv:0', 'XBTUSD.csv:1', 'XBTUSD.csv:4', 'XBTUSD.csv:5', 'XBTUSD.csv:6']);
  assert.deepEqual(a.rejects.map((r) => r.kind), ['bad_price', 'bad_qty']);
  assert.equal(a.trades[0]!.ts_ms, Number(src[0]!.split(',')[0]) * 1000);
  // without an exchange: every row is rejected with a reason that says what to pass
  const c = await readAll(path);
  assert.equal(c.trades.length, 0);
  assert.ok(c.rejects.every((r) => r.kind === 'unknown_pair'));
});

test('CsvImportSource delivers every trade and routes rejects to the sink', async () => {
  const sink = new WaitingSink();
  await new CsvImportSource(tradeFile('kraken_ETHUSD_trades_20220320T1018-1207.csv'), { batchSize: 128 }).run(sink);
  assert.equal(sink.received.length, 1000);
  assert.equal(sink.rejected.length, 0);
  await assert.rejects(new CsvImportSource(join(REPO_ROOT, 'data/test/README.md')).run(sink), /unknown trade CSV format/);
});

test('decimal seconds are read exactly', () => {
  assert.equal(decimalSecondsToMs('1647771524.9025295'), 1647771524902);
  assert.equal(decimalSecondsToMs('1315922016'), 1315922016000);
  assert.equal(decimalSecondsToMs('1.5'), 1500);
  assert.equal(decimalSecondsToMs('x'), null);
});
