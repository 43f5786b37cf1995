/**
 * Binance: the parser on the real recorded frames (ws-messages/binance_spot_*.gz; the committed
 * slices keep the first 3,000 lines and every @trade line, see data/test/README.md), checked
 * against the CSV flattened from them independently (trades/binance_spot_*.csv); and the live
 * source over a real socket against a local server replaying those frames, with a drop.
 */
import { testData } from '../fixtures/test-data.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { register } from 'prom-client';
import { BinanceWsSource, parseBinanceFrame, readBinanceRecording } from '../../src/sources/binance.ts';
import type { Trade } from '../../src/contracts/messages.ts';
import { WaitingSink, byPair, silentLogger } from './helpers.ts';

const recording = (sym: string, day: string) => testData(`ws-messages/binance_spot_${sym}_${day}_head3000+trades.gz`);
const CHECK = { nowMs: Date.parse('2024-08-09T00:10:00Z'), maxFutureMs: 300_000 };

function csvTrades(file: string, pair: string): Trade[] {
  return readFileSync(testData(`trades/${file}`), 'utf8').trim().split(/\r?\n/).slice(1).map((l) => {
    const c = l.split(',');
    return { exchange: 'binance', pair, trade_id: c[4]!, price: Number(c[5]), qty: Number(c[6]), side: c[7] === 'true' ? 'sell' : 'buy', ts_ms: Number(c[2]) };
  });
}

for (const [sym, pair, csv] of [
  ['btcusdt', 'BTC/USDT', 'binance_spot_BTCUSDT_trades_20240808T2354-20240809T0005.csv'],
  ['ethusdt', 'ETH/USDT', 'binance_spot_ETHUSDT_trades_20240808T2354-20240809T0005.csv'],
] as const) {
  test(`every ${sym}@trade frame of the real recordings parses to the trade in the independent CSV`, async () => {
    const got: Trade[] = [];
    const rejects: unknown[] = [];
    for (const day of ['20240808', '20240809']) {
      for await (const r of readBinanceRecording(recording(sym, day), { onReject: (x) => rejects.push(x) })) got.push(r.trade);
    }
    const expected = csvTrades(csv, pair);
    assert.equal(expected.length, sym === 'btcusdt' ? 19_904 : 14_515); // row counts stated in the data README
    assert.deepEqual(rejects, []);
    assert.equal(got.length, expected.length);
    for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], expected[i], `trade ${i}`);
  });
}

test('raw and combined forms, acks, other streams and bad frames', () => {
  const line = gunzipSync(readFileSync(recording('btcusdt', '20240808'))).toString('utf8').split('\n').find((l) => l.includes('@trade'))!;
  const combined = line.slice(line.indexOf(' ') + 1);
  const data = (JSON.parse(combined) as { data: Record<string, unknown> }).data;
  const a = parseBinanceFrame(combined, CHECK);
  const b = parseBinanceFrame(JSON.stringify(data), CHECK);
  assert.equal(a.kind, 'trades');
  assert.deepEqual(b, a);
  if (a.kind !== 'trades') return;
  assert.deepEqual(a.trades[0]!.trade, { exchange: 'binance', pair: 'BTC/USDT', trade_id: String(data.t), price: Number(data.p), qty: Number(data.q), side: data.m ? 'sell' : 'buy', ts_ms: data.T });
  assert.equal(parseBinanceFrame('{"result":null,"id":1}', CHECK).kind, 'ack');
  const book = parseBinanceFrame('{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}}', CHECK);
  assert.deepEqual(book, { kind: 'ignored', what: 'btcusdt@bookTicker' });
  const bad = (patch: Record<string, unknown>) => {
    const e = parseBinanceFrame(JSON.stringify({ ...data, ...patch }), CHECK);
    return e.kind === 'reject' ? e.rejects[0]!.kind : e.kind;
  };
  assert.equal(parseBinanceFrame('{"e":"trade",', CHECK).kind, 'reject');
  assert.equal(bad({ p: 'abc' }), 'bad_price');
  assert.equal(bad({ p: '-1' }), 'bad_price');
  assert.equal(bad({ q: '0' }), 'bad_qty');
  assert.equal(bad({ T: CHECK.nowMs + 600_000 }), 'future_timestamp');
  assert.equal(bad({ m: 'yes' }), 'bad_side');
  assert.equal(bad({ s: 'XYZ' }), 'unknown_pair');
});

test('live combined stream over a socket: reconnect after a drop, dedup of resent frames, gap counted', async () => {
  // The real recorded frames (trades and one bookTicker) replayed by a local server.
  const lines = gunzipSync(readFileSync(recording('btcusdt', '20240808'))).toString('utf8').split('\n').slice(0, 3000);
  const frames = lines.map((l) => l.slice(l.indexOf(' ') + 1)).filter((f) => f.includes('"btcusdt@trade"')).slice(0, 600);
  const bookTicker = lines.map((l) => l.slice(l.indexOf(' ') + 1)).find((f) => f.includes('@bookTicker'))!;
  const ids = frames.map((f) => String((JSON.parse(f) as { data: { t: number } }).data.t));
  const DROP_AT = 250;
  const SKIPPED = 40; // trades that happen while the client is away
  const RESENT = 5; // frames the server sends again after the reconnect
  let pos = 0;
  let conns = 0;
  let requested = '';
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws: WebSocket, req) => {
    conns++;
    requested = req.url ?? '';
    if (conns === 2) {
      for (let i = DROP_AT - RESENT; i < DROP_AT; i++) ws.send(frames[i]!); // already delivered before the drop
      pos = DROP_AT + SKIPPED;
    }
    if (conns === 1) ws.send(bookTicker);
    const tick = setInterval(() => {
      for (let k = 0; k < 10 && pos < frames.length; k++) {
        if (conns === 1 && pos === DROP_AT) return void (clearInterval(tick), ws.terminate());
        ws.send(frames[pos++]!);
      }
    }, 2);
    ws.on('close', () => clearInterval(tick));
  });
  await new Promise((r) => wss.once('listening', r));
  const gapBefore = await gapCount();
  const src = new BinanceWsSource({ pairs: ['BTC/USDT'], url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, logger: silentLogger, deadAfterMs: 500, backoff: { baseMs: 5, maxMs: 20 }, clock: () => CHECK.nowMs });
  const sink = new WaitingSink();
  const running = src.run(sink);
  try {
    await sink.until(() => sink.received.at(-1)?.trade_id === ids.at(-1), 'the last frame');
  } finally {
    await src.stop();
    await running;
    await new Promise((r) => wss.close(r));
  }
  assert.equal(requested, '/stream?streams=btcusdt@trade');
  assert.equal(conns, 2);
  const expected = [...ids.slice(0, DROP_AT), ...ids.slice(DROP_AT + SKIPPED)];
  assert.deepEqual(byPair(sink.received, 'BTC/USDT').map((t) => t.trade_id), expected);
  assert.equal(sink.rejected.length, 1);
  assert.match(sink.rejected[0]!.reason, /^unknown_channel: /);
  assert.equal((await gapCount()) - gapBefore, SKIPPED);
});

async function gapCount(): Promise<number> {
  const m = register.getSingleMetric('tickcast_source_gap_trades_total');
  return m ? (await m.get()).values.filter((v) => v.labels.source === 'binance-ws').reduce((s, v) => s + v.value, 0) : 0;
}
