/**
 * Websocket abuse (issue 14): snapshot amplification. Every subscribe made
 * the server queue a full snapshot with no look at the connection's send
 * buffer, so clients that never read could make it queue gigabytes. Here:
 * snapshots only for pairs newly added, every send bounded by the
 * connection's buffer, a per-connection message rate, and the attack itself
 * against a server in a child process whose memory is measured.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startApiServer, type ApiServer } from '../../src/api/api-server.ts';
import type { ApiDeps } from '../../src/api/api-plugin.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import type { ServerFrame } from '../../src/api/ws-frames.ts';
import { PAIRS, errorsFrom, predictionsFrom, quietLogger, realCandles, until } from './helpers.ts';
import { connect, rawClient } from './ws-clients.ts';

const MiB = 1024 * 1024;

/** A live cache as full as the service keeps it (360 rows per series and pair): snapshots of production size. */
function fullCache(): LiveCache {
  const cache = new LiveCache({ pairs: PAIRS, recent: 360 });
  for (const pair of PAIRS) {
    const candles = realCandles(pair, 366);
    const preds = predictionsFrom(candles);
    for (const c of candles) cache.addCandle(c);
    for (const p of preds) cache.addPrediction(p);
    for (const e of errorsFrom(preds, candles)) cache.addError(e);
  }
  return cache;
}

async function server(over: Partial<ApiDeps> & { ws?: Record<string, number> } = {}): Promise<ApiServer> {
  return startApiServer(
    { logger: quietLogger(), cache: fullCache(), history: { newestFirst: async () => [] }, ...over } as ApiDeps,
    { host: '127.0.0.1', port: 0 },
  );
}

const snapshotBytes = (cache: LiveCache, pair: string) => Buffer.byteLength(JSON.stringify({ type: 'snapshot', ...cache.snapshot(pair) }));

describe('websocket: bounded work and memory per connection', () => {
  test('a subscribe sends a snapshot only for the pairs it newly adds', async () => {
    const srv = await server();
    try {
      const c = await connect(srv.url);
      c.send({ op: 'subscribe', pairs: ['BTC/USD'] });
      await until(() => c.of('snapshot').length === 1, 'first snapshot');
      c.send({ op: 'subscribe', pairs: ['BTC/USD'] });
      c.send({ op: 'subscribe', pairs: ['BTC/USD', 'ETH/USD'] });
      c.send({ op: 'subscribe', pairs: ['ETH/USD', 'BTC/USD'] });
      await until(() => c.of('subscribed').length === 4, 'four subscribed frames');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(c.of('snapshot').map((s) => s.pair), ['BTC/USD', 'ETH/USD'], 'one snapshot per pair added');
      // Unsubscribed, then subscribed again: newly added again, so a fresh snapshot.
      c.send({ op: 'unsubscribe', pairs: ['ETH/USD'] });
      c.send({ op: 'subscribe', pairs: ['ETH/USD'] });
      await until(() => c.of('snapshot').length === 3, 'snapshot after re-subscribe');
      assert.equal(c.of('snapshot')[2]?.pair, 'ETH/USD');
      c.ws.close();
    } finally {
      await srv.close();
    }
  });

  test('snapshots count against the send buffer: a client that reads none is dropped (4000) before its queue passes the limit plus one frame', async () => {
    const limit = 512 * 1024;
    const cache = fullCache();
    const srv = await server({ cache, ws: { maxBufferedBytes: limit, closeGraceMs: 30_000, maxMessagesPerSecond: 10_000, messageBurst: 10_000 } });
    const sockets: Socket[] = [];
    srv.app.server.on('connection', (s: Socket) => sockets.push(s));
    try {
      const frameMax = Math.max(...PAIRS.map((p) => snapshotBytes(cache, p))) + 16;
      const attacker = await rawClient(srv.url);
      // 80 subscribe/unsubscribe rounds: each subscribe newly adds the pair, so each may earn a snapshot (~20 MB in all).
      const msgs: unknown[] = [];
      for (let i = 0; i < 80; i++) msgs.push({ op: 'subscribe', pairs: ['BTC/USD'] }, { op: 'unsubscribe', pairs: ['BTC/USD'] });
      attacker.send(...msgs);
      let maxQueued = 0;
      const t0 = Date.now();
      while (Date.now() - t0 < 2000) {
        for (const s of sockets) maxQueued = Math.max(maxQueued, s.writableLength);
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(maxQueued <= limit + frameMax + 1024, `queued ${maxQueued} bytes for one client; bound ${limit} + one frame (${frameMax})`);
      const { frames, close } = await Promise.race([
        attacker.readAll(),
        new Promise<{ frames: ServerFrame[]; close: null }>((r) => setTimeout(() => r({ frames: [], close: null }), 10_000)),
      ]);
      assert.ok(close, 'the client was sent a close frame');
      assert.equal(close.code, 4000);
      assert.match(close.reason, /slow consumer/);
      const snaps = frames.filter((f) => f.type === 'snapshot').length;
      assert.ok(snaps > 0 && snaps < 80, `part of the snapshots were sent (${snaps})`);
    } finally {
      await srv.close();
    }
  });

  test('more messages than the per-connection rate: closed with 4029; a client within the rate stays', async () => {
    const srv = await server({ ws: { maxMessagesPerSecond: 10, messageBurst: 20 } });
    try {
      const calm = await connect(srv.url);
      const flood = await connect(srv.url);
      for (let i = 0; i < 200; i++) flood.send({ op: i % 2 ? 'unsubscribe' : 'subscribe', pairs: ['ETH/USD'] });
      const closed = await Promise.race([flood.closed, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
      assert.ok(closed, 'the flooding client was disconnected');
      assert.equal(closed.code, 4029);
      assert.match(closed.reason, /too many messages/);
      assert.ok(flood.frames.length < 60, `the server stopped answering early (${flood.frames.length} frames)`);
      for (let i = 0; i < 8; i++) {
        calm.send({ op: i % 2 ? 'unsubscribe' : 'subscribe', pairs: ['BTC/USD'] });
        await new Promise((r) => setTimeout(r, 150));
      }
      await until(() => calm.of('unsubscribed').length === 4, 'calm client answered');
      assert.equal(calm.ws.readyState, 1, 'the calm client is still connected');
      calm.ws.close();
    } finally {
      await srv.close();
    }
  });
});

// ---- the attack, against a server in its own process -----------------------------

type Mem = { rss: number; heapUsed: number; external: number; arrayBuffers: number };

function child(wsOpts: Record<string, number>): Promise<{ proc: ChildProcess; port: number; ask<T>(m: object, reply: string): Promise<T> }> {
  const file = fileURLToPath(new URL('./ws-attack-server.ts', import.meta.url));
  const proc = fork(file, [JSON.stringify(wsOpts)], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T>(m: object, reply: string) =>
    new Promise<T>((resolve, reject) => {
      const on = (x: { op?: string }) => {
        if (x.op !== reply) return;
        proc.off('message', on);
        resolve(x as T);
      };
      proc.on('message', on);
      proc.send(m, (err) => err && reject(err));
    });
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`attack server exited (${code})`)));
    proc.once('message', (m: { port?: number }) => resolve({ proc, port: m.port as number, ask }));
  });
}

test('the attack: 8 clients that never read, 200 subscribes each, leave the server within its memory bound; others keep receiving; attackers get a close code', async (t) => {
  const ATTACKERS = 8;
  const SUBSCRIBES = 200;
  const maxBufferedBytes = 4 * MiB; // the default
  const srv = await child({ closeGraceMs: 30_000 });
  const url = `http://127.0.0.1:${srv.port}`;
  const stats = () => srv.ask<{ now: Mem; peak: Mem; clients: number }>({ op: 'stats' }, 'stats');
  try {
    const reader = await connect(url);
    reader.send({ op: 'subscribe', pairs: ['BTC/USD'] });
    await until(() => reader.of('snapshot').length === 1, 'reader snapshot');
    const snapshot = Buffer.byteLength(JSON.stringify(reader.of('snapshot')[0]));
    await srv.ask({ op: 'gc' }, 'gc');
    await srv.ask({ op: 'reset' }, 'reset');
    const base = (await stats()).now;

    const attackers = await Promise.all(Array.from({ length: ATTACKERS }, () => rawClient(url)));
    for (const a of attackers) a.send(...Array.from({ length: SUBSCRIBES }, () => ({ op: 'subscribe', pairs: ['BTC/USD', 'ETH/USD'] })));
    await new Promise((r) => setTimeout(r, 3000));

    // Another client keeps receiving during the attack.
    await srv.ask({ op: 'publish', n: 50 }, 'published');
    await until(() => reader.of('prediction').length === 50, 'the reader got every prediction', 20_000);
    const during = await stats();

    // The attackers read now: each finds a close frame with a code saying why.
    const results = await Promise.all(
      attackers.map((a) =>
        Promise.race([a.readAll(), new Promise<{ frames: ServerFrame[]; close: null }>((r) => setTimeout(() => r({ frames: [], close: null }), 15_000))]),
      ),
    );
    for (const a of attackers) a.destroy();
    await new Promise((r) => setTimeout(r, 500));
    await srv.ask({ op: 'gc' }, 'gc');
    const after = (await stats()).now;

    const mb = (n: number) => `${(n / MiB).toFixed(1)} MB`;
    const bound = ATTACKERS * (maxBufferedBytes + 2 * snapshot) + 48 * MiB;
    t.diagnostic(
      `snapshot ${mb(snapshot)}; rss base ${mb(base.rss)}, peak ${mb(during.peak.rss)} (+${mb(during.peak.rss - base.rss)}), after ${mb(after.rss)} (+${mb(after.rss - base.rss)}); ` +
        `heap+external base ${mb(base.heapUsed + base.external)}, peak ${mb(during.peak.heapUsed + during.peak.external)}, after ${mb(after.heapUsed + after.external)}; bound +${mb(bound)}`,
    );
    assert.ok(during.peak.rss - base.rss <= bound, `peak RSS grew by ${mb(during.peak.rss - base.rss)}; bound ${mb(bound)}`);
    assert.ok(after.rss - base.rss <= bound, `RSS after the attackers left: +${mb(after.rss - base.rss)}; bound ${mb(bound)}`);
    assert.ok(after.heapUsed + after.external - (base.heapUsed + base.external) <= 16 * MiB, `heap + external after: +${mb(after.heapUsed + after.external - base.heapUsed - base.external)}`);
    for (const [i, r] of results.entries()) {
      assert.ok(r.close, `attacker ${i} was sent a close frame`);
      assert.ok([4000, 4029].includes(r.close.code), `attacker ${i}: close ${r.close.code} ${r.close.reason}`);
      assert.ok(r.close.reason.length > 0, 'the close frame says why');
    }
    const left = await stats();
    assert.equal(left.clients, 1, 'only the reader is left');
    assert.equal(reader.ws.readyState, 1, 'the reader is still connected');
    reader.ws.close();
  } finally {
    srv.proc.kill('SIGKILL');
  }
});
