/**
 * The native fan-out of the websocket broadcast (@tickcast/fanout, used by
 * ts/src/api/ws-hub.ts) over real sockets on 127.0.0.1: every client gets
 * every frame, whole and in order, whether its bytes went out through the
 * native writes (split over threads), through the socket's own queue, or
 * partly each (a client that stops reading until its send buffer is full).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { register, type Counter } from 'prom-client';
import { startApiServer, type ApiServer } from '../../src/api/api-server.ts';
import type { ApiDeps } from '../../src/api/api-plugin.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import type { Prediction } from '../../src/contracts/messages.ts';
import { PAIRS, predictionsFrom, quietLogger, realCandles, until } from './helpers.ts';
import { connect, rawClient, type Conn } from './ws-clients.ts';

async function server(ws: NonNullable<ApiDeps['ws']>): Promise<ApiServer> {
  return startApiServer(
    { logger: quietLogger(), cache: new LiveCache({ pairs: PAIRS }), history: { newestFirst: async () => [] }, ws },
    { host: '127.0.0.1', port: 0 },
  );
}

/** The fan-out counter's value for a path (direct | buffered). */
async function writes(path: 'direct' | 'buffered'): Promise<number> {
  const m = register.getSingleMetric('tickcast_api_ws_fanout_writes_total') as Counter<'path'> | undefined;
  if (!m) return 0;
  return (await m.get()).values.find((v) => v.labels.path === path)?.value ?? 0;
}

const base = predictionsFrom(realCandles('BTC/USD', 3))[0] as Prediction;
const nth = (j: number, pad = ''): Prediction => ({ ...base, made_at_ms: base.made_at_ms + j * 1000, model_name: `m${pad}` });
const madeAts = (c: Conn) => c.of('prediction').map((f) => f.data.made_at_ms);
const expected = (n: number) => Array.from({ length: n }, (_, j) => base.made_at_ms + j * 1000);

describe('websocket fan-out', () => {
  for (const threads of [2, 0]) {
    test(`600 clients, fanoutThreads ${threads}: every client gets all 20 predictions in order; ${threads ? 'written by the native fan-out' : 'all through the sockets\' own queues'}`, async () => {
      const srv = await server({ fanoutThreads: threads });
      const clients: Conn[] = [];
      try {
        for (let i = 0; i < 600; i += 100) {
          clients.push(...(await Promise.all(Array.from({ length: 100 }, () => connect(srv.url)))));
        }
        for (const c of clients) c.send({ op: 'subscribe', pairs: ['BTC/USD'] });
        await until(() => srv.app.wsHub.subscriberCount('BTC/USD') === 600 && clients.every((c) => c.of('subscribed').length === 1), 'subscriptions', 30_000);
        const direct0 = await writes('direct');
        const buffered0 = await writes('buffered');
        for (let j = 0; j < 20; j++) srv.app.live.prediction(nth(j));
        await until(() => clients.every((c) => c.of('prediction').length >= 20), 'every client got 20 predictions', 30_000);
        for (const c of clients) assert.deepEqual(madeAts(c), expected(20));
        const direct = (await writes('direct')) - direct0;
        const buffered = (await writes('buffered')) - buffered0;
        if (threads > 0) {
          // Nothing is queued on these sockets, so every write is a direct one.
          assert.equal(direct, 600 * 20);
          assert.equal(buffered, 0);
        } else {
          assert.equal(direct, 0);
          assert.equal(buffered, 600 * 20);
        }
      } finally {
        for (const c of clients) c.ws.terminate();
        await srv.close();
      }
    });
  }

  test('a client that stops reading until its send buffer is full still gets every frame, whole and in order (direct writes until its send buffer fills, then its own queue)', async () => {
    // A buffer limit high enough that the stalled client is not dropped as slow.
    const srv = await server({ fanoutThreads: 2, maxBufferedBytes: 256 * 1024 * 1024, closeGraceMs: 30_000 });
    try {
      const stalled = await rawClient(srv.url);
      stalled.subscribe('BTC/USD');
      const fast = await connect(srv.url);
      fast.send({ op: 'subscribe', pairs: ['BTC/USD'] });
      await until(() => fast.of('snapshot').length === 1 && srv.app.wsHub.subscriberCount('BTC/USD') === 2, 'subscriptions');
      await new Promise((r) => setTimeout(r, 100)); // the stalled client's subscribe is processed
      const buffered0 = await writes('buffered');
      // About 1.1 kB per frame: 24,000 frames are far more than loopback's send + receive buffers hold.
      const N = 24_000;
      const pad = 'm'.repeat(1000);
      for (let i = 0; i < N; i += 500) {
        for (let j = i; j < i + 500; j++) srv.app.live.prediction(nth(j, pad));
        await until(() => fast.of('prediction').length === i + 500, `fast client read ${i + 500}`, 30_000);
      }
      assert.ok((await writes('buffered')) - buffered0 > 0, 'the stalled socket\'s send buffer filled: some frames went to its queue');
      assert.deepEqual(madeAts(fast), expected(N));
      // Read everything the stalled client was sent; the server's shutdown ends it with a close frame.
      const reading = stalled.readAll();
      fast.ws.close();
      await srv.close();
      const { frames, close } = await reading;
      assert.equal(close?.code, 1001);
      const preds = frames.filter((f) => f.type === 'prediction');
      assert.equal(preds.length, N, 'every frame arrived once');
      assert.deepEqual(preds.map((f) => f.data.made_at_ms), expected(N));
      assert.ok(preds.every((f) => f.data.model_name === `m${pad}`), 'every frame whole');
    } finally {
      await srv.close();
    }
  });
});
