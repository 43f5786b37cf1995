/**
 * The service runner on the in-process bus: services start in order, a graceful
 * stop lets the last output of each stage reach the next, stores are opened
 * lazily and closed once, a failed start stops what was started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { Runner, runProcess, storesConfigOf, type Service, type ServiceContext } from '../../src/services/runner.ts';
import { registry, resolveServices } from '../../src/services/registry.ts';
import type { Stores } from '../../src/stores/types.ts';
import { isHeartbeat, isTradeBatch, tradeAt, type Prediction, type Trade } from '../../src/contracts/messages.ts';
import type { Subscription } from '../../src/bus/index.ts';
import { mergeByTime, realTrades } from '../bus/fixtures.ts';

const logger = pino({ level: 'silent' });
const config = () => loadConfig({ env: { TICKCAST_HTTP_HOST: '127.0.0.1', TICKCAST_HTTP_PORT: '0' } });

function fakeStores() {
  const state = { opened: 0, closed: 0 };
  const open = async (): Promise<Stores> => {
    state.opened++;
    return {
      features: {} as Stores['features'],
      predictions: {} as Stores['predictions'],
      close: async () => {
        state.closed++;
      },
    };
  };
  return { state, open };
}

/** A three-stage pipeline whose middle stage only emits when it is stopped (a flush). */
function pipeline(input: Trade[]) {
  const events: string[] = [];
  const received: Prediction[] = [];
  const source: Service = {
    name: 'source',
    async start(ctx) {
      events.push('start source');
      await ctx.bus.publish('trades', input);
    },
    async stop() {
      events.push('stop source');
    },
  };
  let lastByPair = new Map<string, Trade>();
  let sub: Subscription | null = null;
  let ctxOf: ServiceContext | null = null;
  const flusher: Service = {
    name: 'flusher',
    async start(ctx) {
      events.push('start flusher');
      ctxOf = ctx;
      await ctx.stores(); // opens the stores lazily
      sub = await ctx.bus.consume({ group: 'flusher', topics: ['trades'], fromBeginning: true, handler: (t) => void (isHeartbeat(t) || lastByPair.set(t.pair, isTradeBatch(t) ? tradeAt(t, t.trade_id.length - 1) : t)) });
    },
    async stop() {
      events.push('stop flusher');
      await sub?.stop();
      const out: Prediction[] = [...lastByPair.values()].map((t) => ({
        pair: t.pair,
        made_at_ms: t.ts_ms,
        target_ms: t.ts_ms + 300_000,
        horizon_s: 300,
        predicted_price: t.price,
        last_close: t.price,
        model_name: 'persistence',
        model_version: 'v0',
      }));
      lastByPair = new Map();
      await ctxOf?.bus.publish('predictions', out);
    },
  };
  let sinkSub: Subscription | null = null;
  const sink: Service = {
    name: 'sink',
    async start(ctx) {
      events.push('start sink');
      await ctx.stores(); // the same stores: opened once
      sinkSub = await ctx.bus.consume({ group: 'sink', topics: ['predictions'], fromBeginning: true, handler: (p) => void received.push(p) });
    },
    async stop() {
      events.push('stop sink');
      await sinkSub?.stop();
    },
  };
  return { services: [source, flusher, sink], events, received };
}

test('graceful stop: upstream first, each stage flushes, downstream still receives it; stores opened once and closed', async () => {
  const input = mergeByTime(realTrades('BTC/USDT', 120), realTrades('ETH/USDT', 80));
  const { services, events, received } = pipeline(input);
  const stores = fakeStores();
  const runner = new Runner({ config: config(), logger, openStores: stores.open });
  assert.equal(runner.isReady(), false);
  await runner.start(services);
  assert.equal(runner.isReady(), true);
  assert.equal(runner.bus.kind, 'memory');
  await runner.bus.drain();
  await runner.stop();
  assert.equal(runner.isReady(), false);
  assert.deepEqual(events, ['start source', 'start flusher', 'start sink', 'stop source', 'stop flusher', 'stop sink']);
  // Reference: the last trade of each pair in the input.
  const want = new Map<string, Trade>();
  for (const t of input) want.set(t.pair, t);
  assert.equal(received.length, want.size, 'the flush reached the sink before it stopped');
  for (const p of received) assert.equal(p.predicted_price, want.get(p.pair)?.price, p.pair);
  assert.deepEqual(stores.state, { opened: 1, closed: 1 });
  await runner.stop(); // idempotent
  assert.deepEqual(stores.state, { opened: 1, closed: 1 });
});

test('stores whose open failed (the store down past its retry budget) are opened again by the next caller; shared once open', async () => {
  let attempts = 0;
  const inner = fakeStores();
  const open = async (): Promise<Stores> => {
    if (++attempts === 1) throw new Error('STORE_UNAVAILABLE: node down');
    return inner.open();
  };
  const got: string[] = [];
  const user: Service = {
    name: 'user',
    start: async (ctx: ServiceContext) => {
      const a = ctx.stores(); // at once (as the features service opens them at start) ...
      await a.then(() => got.push('open'), (e: Error) => got.push(e.message));
      const b = await ctx.stores(); // ... and again later, as its first batch does
      assert.equal(b, await ctx.stores(), 'the same stores for every later caller');
      got.push('open');
    },
    stop: async () => undefined,
  };
  const runner = new Runner({ config: config(), logger, openStores: open });
  await runner.start([user]);
  await runner.stop();
  assert.deepEqual(got, ['STORE_UNAVAILABLE: node down', 'open']);
  assert.equal(attempts, 2);
  assert.deepEqual(inner.state, { opened: 1, closed: 1 });
});

test('a service that fails to start: the ones started are stopped, the error surfaces', async () => {
  const events: string[] = [];
  const ok: Service = { name: 'ok', start: async () => void events.push('start ok'), stop: async () => void events.push('stop ok') };
  const bad: Service = {
    name: 'bad',
    start: async () => {
      throw new Error('cannot bind');
    },
    stop: async () => void events.push('stop bad'),
  };
  const runner = new Runner({ config: config(), logger, openStores: fakeStores().open });
  await assert.rejects(runner.start([ok, bad]), /cannot bind/);
  assert.deepEqual(events, ['start ok', 'stop ok'], 'only the started service is stopped');
  assert.equal(runner.bus.isReady(), false, 'the bus is closed');
});

test('runProcess serves readiness and shuts down on request', async () => {
  const { services } = pipeline(realTrades('BTC/USDT', 10));
  const proc = await runProcess(services, { config: config(), logger, openStores: fakeStores().open, installSignalHandlers: false });
  const ready = await fetch(`${proc.ops.url}/readyz`);
  assert.equal(ready.status, 200);
  await proc.shutdown();
  await assert.rejects(fetch(`${proc.ops.url}/healthz`), 'the endpoint is closed after shutdown');
});

test('the registry resolves names in pipeline order, all, and rejects unknown names', () => {
  assert.ok(registry.has('heartbeat'));
  assert.deepEqual(resolveServices(['all']).map((s) => s.name), [...registry.keys()]);
  assert.deepEqual(resolveServices(['heartbeat', 'heartbeat']).map((s) => s.name), ['heartbeat']);
  assert.throws(() => resolveServices(['nope']), /unknown service\(s\): nope; known: .*heartbeat/);
  assert.throws(() => resolveServices([]), /name at least one service/);
  const order = new Map<string, () => Service>([
    ['a', () => ({ name: 'a', start: async () => {}, stop: async () => {} })],
    ['b', () => ({ name: 'b', start: async () => {}, stop: async () => {} })],
  ]);
  assert.deepEqual(resolveServices(['b', 'a'], order).map((s) => s.name), ['a', 'b'], 'pipeline order, not argument order');
});

test('store settings follow the configuration', () => {
  assert.deepEqual(storesConfigOf(loadConfig({ env: { TICKCAST_DATA_DIR: '/tmp/x' } })), { kind: 'sqlite', dataDir: '/tmp/x' });
  assert.deepEqual(
    storesConfigOf(
      loadConfig({
        env: { TICKCAST_STORE: 'elasticsearch', TICKCAST_ES_URL: 'http://es:9200', TICKCAST_ES_USERNAME: 'u', TICKCAST_ES_PASSWORD: 'p', TICKCAST_ES_INDEX_PREFIX: 'tc-' },
      }),
    ),
    { kind: 'elasticsearch', node: 'http://es:9200', indexPrefix: 'tc-', auth: { username: 'u', password: 'p' } },
  );
  const withKey = storesConfigOf(loadConfig({ env: { TICKCAST_STORE: 'elasticsearch', TICKCAST_ES_URL: 'http://es:9200', TICKCAST_ES_API_KEY: 'k' } }));
  assert.equal(withKey.kind, 'elasticsearch');
  assert.deepEqual((withKey as { auth?: unknown }).auth, { apiKey: 'k' });
});
