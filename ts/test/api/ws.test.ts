/**
 * The websocket API over real sockets on 127.0.0.1: snapshot on subscribe,
 * live push, unsubscribe, invalid messages, slow-consumer disconnect,
 * heartbeat drop, upgrade refusals.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startApiServer, type ApiServer } from '../../src/api/api-server.ts';
import type { ApiDeps } from '../../src/api/api-plugin.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import { textFrame } from '../../src/api/ws-frames.ts';
import type { Prediction } from '../../src/contracts/messages.ts';
import { PAIRS, errorsFrom, predictionsFrom, quietLogger, realCandles, until } from './helpers.ts';
import { connect, rawClient } from './ws-clients.ts';

async function server(over: Partial<ApiDeps> = {}): Promise<ApiServer> {
  return startApiServer(
    { logger: quietLogger(), cache: new LiveCache({ pairs: PAIRS }), history: { newestFirst: async () => [] }, ...over },
    { host: '127.0.0.1', port: 0 },
  );
}


describe('websocket /v1/ws', () => {
  test('hello, then subscribe → subscribed + a snapshot of the latest prediction and recent rows, oldest first', async () => {
    const srv = await server();
    try {
      const candles = realCandles('BTC/USD', 40);
      const preds = predictionsFrom(candles);
      const errs = errorsFrom(preds, candles);
      // Fed in reverse: the snapshot must still be in time order.
      for (const c of [...candles].reverse()) srv.app.live.candle(c);
      for (const p of [...preds].reverse()) srv.app.live.prediction(p);
      for (const e of errs) srv.app.live.predictionError(e);
      const c = await connect(srv.url);
      assert.deepEqual(c.of('hello')[0]?.pairs, [...PAIRS]);
      c.send({ op: 'subscribe', pairs: ['BTC/USD'] });
      await until(() => c.of('snapshot').length === 1, 'snapshot');
      assert.deepEqual(c.of('subscribed')[0]?.pairs, ['BTC/USD']);
      const snap = c.of('snapshot')[0]!;
      const byTime = <T>(xs: T[], t: (x: T) => number) => [...xs].sort((a, b) => t(a) - t(b));
      assert.deepEqual(snap.candles, byTime(candles, (x) => x.window_end_ms));
      assert.deepEqual(snap.predictions, byTime(preds, (x) => x.made_at_ms));
      assert.deepEqual(snap.errors, byTime(errs, (x) => x.target_ms));
      assert.deepEqual(snap.prediction, preds[preds.length - 1]);
      // Frame order: subscribed before snapshot.
      assert.deepEqual(c.frames.map((f) => f.type), ['hello', 'subscribed', 'snapshot']);
      c.ws.close();
    } finally {
      await srv.close();
    }
  });

  test('live push per pair, and unsubscribe stops it', async () => {
    const srv = await server();
    try {
      const btc = realCandles('BTC/USD', 12);
      const eth = realCandles('ETH/USD', 12);
      const a = await connect(srv.url);
      const b = await connect(srv.url);
      a.send({ op: 'subscribe', pairs: ['BTC/USD', 'ETH/USD'] });
      b.send({ op: 'subscribe', pairs: ['ETH/USD'] });
      await until(() => a.of('snapshot').length === 2 && b.of('snapshot').length === 1, 'snapshots');
      const bp = predictionsFrom(btc);
      const ep = predictionsFrom(eth);
      for (let i = 0; i < bp.length; i++) {
        srv.app.live.candle(btc[i + 1]!);
        srv.app.live.prediction(bp[i]!);
        srv.app.live.candle(eth[i + 1]!);
        srv.app.live.prediction(ep[i]!);
      }
      await until(() => a.of('prediction').length === 22 && b.of('prediction').length === 11, 'predictions');
      await until(() => a.of('candle').length === 22 && b.of('candle').length === 11, 'candles');
      assert.deepEqual(a.of('prediction').filter((f) => f.pair === 'BTC/USD').map((f) => f.data), bp);
      assert.deepEqual(b.of('prediction').map((f) => f.data), ep);
      assert.ok(b.of('candle').every((f) => f.pair === 'ETH/USD' && f.data.pair === 'ETH/USD'));
      const errs = errorsFrom(ep, eth);
      assert.ok(errs.length > 0);
      for (const e of errs) srv.app.live.predictionError(e);
      await until(() => b.of('prediction_error').length === errs.length, 'errors');
      assert.deepEqual(b.of('prediction_error').map((f) => f.data), errs);

      // Unsubscribe a from ETH: then an ETH frame must not reach it, a BTC frame (sentinel, sent after) must.
      a.send({ op: 'unsubscribe', pairs: ['ETH/USD'] });
      await until(() => a.of('unsubscribed').length === 1, 'unsubscribed');
      const n = a.frames.length;
      const more = predictionsFrom(realCandles('ETH/USD', 20)).slice(15);
      srv.app.live.prediction(more[0]!);
      srv.app.live.prediction({ ...bp[bp.length - 1]!, made_at_ms: bp[bp.length - 1]!.made_at_ms + 60_000 });
      await until(() => a.frames.length === n + 1 && b.of('prediction').length === 12, 'sentinel');
      assert.equal(a.frames[n]?.type, 'prediction');
      assert.equal((a.frames[n] as { pair: string }).pair, 'BTC/USD');
      a.ws.close();
      b.ws.close();
    } finally {
      await srv.close();
    }
  });

  test('invalid client messages get an error frame and the connection stays usable', async () => {
    const srv = await server();
    try {
      const c = await connect(srv.url);
      const bad: [unknown, string, RegExp][] = [
        ['not json', 'INVALID_MESSAGE', /not JSON/],
        [{ op: 'subscribe' }, 'INVALID_MESSAGE', /pairs/],
        [{ op: 'dance', pairs: ['BTC/USD'] }, 'INVALID_MESSAGE', /op/],
        [{ op: 'subscribe', pairs: [] }, 'INVALID_MESSAGE', /pairs/],
        [{ op: 'subscribe', pairs: ['XRP/USD', 'BTC/USD'] }, 'UNKNOWN_PAIR', /XRP\/USD/],
        [[1, 2, 3], 'INVALID_MESSAGE', /expected/],
      ];
      for (const [msg, code, re] of bad) {
        const before = c.of('error').length;
        c.send(msg);
        await until(() => c.of('error').length === before + 1, `error for ${JSON.stringify(msg)}`);
        const f = c.of('error')[before]!;
        assert.equal(f.code, code);
        assert.match(f.message, re);
      }
      c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      await until(() => c.of('error').length === bad.length + 1, 'binary error');
      assert.match(c.of('error')[bad.length]!.message, /binary/);
      assert.equal(c.of('subscribed').length, 0, 'the UNKNOWN_PAIR frame subscribed nothing');
      c.send({ op: 'subscribe', pairs: ['ETH/USD'] });
      await until(() => c.of('snapshot').length === 1, 'snapshot after errors');
      assert.equal(c.ws.readyState, WebSocket.OPEN);
      c.ws.close();
    } finally {
      await srv.close();
    }
  });

  test('a client that stops reading is disconnected with 4000 once its buffer passes the limit; others get everything', async () => {
    const srv = await server({ ws: { maxBufferedBytes: 256 * 1024, closeGraceMs: 30_000 } });
    try {
      // The slow client: a raw TCP socket that does the handshake, subscribes, then reads nothing.
      const slow = await rawClient(srv.url);
      slow.subscribe('BTC/USD');
      const fast = await connect(srv.url);
      fast.send({ op: 'subscribe', pairs: ['BTC/USD'] });
      await until(() => fast.of('snapshot').length === 1 && srv.app.wsHub.clientCount === 2, 'subscriptions');
      await new Promise((r) => setTimeout(r, 100)); // the slow client's subscribe is processed
      const base = predictionsFrom(realCandles('BTC/USD', 3))[0] as Prediction;
      const N = 60_000;
      // Pace the pushes on the fast client (it shares this process): it reads everything promptly,
      // the slow one reads nothing, so only the slow one's buffer grows.
      for (let i = 0; i < N; i += 500) {
        for (let j = i; j < i + 500; j++) {
          srv.app.live.prediction({ ...base, made_at_ms: base.made_at_ms + j * 1000, model_name: 'm'.repeat(100) });
        }
        await until(() => fast.of('prediction').length === i + 500, `fast client read ${i + 500}`, 30_000);
      }
      assert.equal(srv.app.wsHub.subscriberCount('BTC/USD'), 1, 'the slow client was dropped, the fast one kept');
      assert.deepEqual(
        fast.of('prediction').map((f) => f.data.made_at_ms),
        Array.from({ length: N }, (_, j) => base.made_at_ms + j * 1000),
      );
      // Now read what the slow client was sent: some predictions, then a close frame 4000 with the reason.
      const { frames, close } = await slow.readAll();
      assert.ok(close, 'a close frame was sent');
      assert.equal(close.code, 4000);
      assert.match(close.reason, /slow consumer/);
      const preds = frames.filter((f) => f.type === 'prediction').length;
      assert.ok(preds > 0 && preds < N, `the slow client got part of the stream (${preds})`);
      fast.ws.close();
    } finally {
      await srv.close();
    }
  });

  test('heartbeat: a client that does not answer pings is dropped; one that does stays', async () => {
    const srv = await server({ ws: { heartbeatMs: 100 } });
    try {
      const dead = await connect(srv.url, { autoPong: false });
      const alive = await connect(srv.url);
      assert.equal(srv.app.wsHub.clientCount, 2);
      const closed = await dead.closed;
      assert.equal(closed.code, 1006, 'terminated without a close frame');
      await new Promise((r) => setTimeout(r, 400)); // four more beats
      assert.equal(alive.ws.readyState, WebSocket.OPEN);
      assert.equal(srv.app.wsHub.clientCount, 1);
      alive.ws.close();
    } finally {
      await srv.close();
    }
  });

  test('upgrades: other paths 404, API keys required when configured (header or ?api_key=)', async () => {
    const srv = await server({ apiKeys: ['ws-key-12345678'] });
    const status = (url: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, { headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => {});
      });
    try {
      const base = srv.url.replace(/^http/, 'ws');
      assert.equal(await status(`${base}/v1/other`), 404);
      assert.equal(await status(`${base}/v1/ws`), 401);
      assert.equal(await status(`${base}/v1/ws?api_key=wrong-key-123`), 401);
      assert.equal(await status(`${base}/v1/ws?api_key=ws-key-12345678`), 101);
      assert.equal(await status(`${base}/v1/ws`, { 'x-api-key': 'ws-key-12345678' }), 101);
    } finally {
      await srv.close();
    }
  });

  test('server shutdown closes clients with 1001', async () => {
    const srv = await server();
    const c = await connect(srv.url);
    await srv.close();
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
  });
});

test('textFrame (the pre-built broadcast frame): 7-, 16- and 64-bit lengths read back by the ws package\'s own frame parser', async () => {
  // ws's Receiver is an independent RFC 6455 parser (the one every `ws` client uses).
  const { Receiver } = (await import('ws')) as unknown as { Receiver: new (o: object) => NodeJS.WritableStream & NodeJS.EventEmitter };
  for (const n of [0, 1, 125, 126, 127, 65_535, 65_536, 200_000]) {
    const text = 'é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2); // multi-byte UTF-8: n bytes
    const payload = Buffer.from(text, 'utf8');
    assert.equal(payload.length, n);
    const receiver = new Receiver({ isServer: false, maxPayload: 0 });
    const got = new Promise<{ data: Buffer; binary: boolean }>((resolve, reject) => {
      receiver.on('message', (data: Buffer, binary: boolean) => resolve({ data, binary }));
      receiver.on('error', reject);
    });
    receiver.write(textFrame(payload));
    const m = await got;
    assert.equal(m.binary, false, `${n} bytes: a text frame`);
    assert.equal(m.data.toString('utf8'), text, `${n} bytes: payload`);
  }
});
