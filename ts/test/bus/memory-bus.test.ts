/**
 * The bus on the in-process transport: per-key order, consumer groups,
 * committed positions, dead letters for every kind of bad payload, handler
 * retries, drain and backpressure. Payloads are real recorded Binance trades.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../src/bus/bus.ts';
import { MemoryTransport } from '../../src/bus/memory.ts';
import { Topics, batchOf, isTradeBatch, type DeadLetter, type Trade, type TopicKey } from '../../src/contracts/messages.ts';
import { deadLetters, handlerRetries } from '../../src/ops/metrics.ts';
import { mergeByTime, quietLogger, realTrades, tradeOf } from './fixtures.ts';

async function newBus(opts: { highWaterMark?: number; retainMessages?: number; maxRetainedMessages?: number } = {}) {
  const logger = quietLogger();
  const transport = new MemoryTransport({ logger, ...opts });
  const bus = new Bus(transport, { logger, retries: 2, retryBaseMs: 1 });
  await bus.start();
  return { bus, transport };
}

async function counterValue(c: { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> }, labels: Record<string, string>) {
  const { values } = await c.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

const btc = realTrades('BTC/USDT', 400);
const eth = realTrades('ETH/USDT', 400);

test('each pair keeps its order and every group gets every message', async () => {
  const { bus } = await newBus();
  const seen: Record<string, Trade[]> = { a: [], b: [] };
  for (const g of ['a', 'b'] as const) {
    await bus.consume({ group: g, topics: ['trades'], handler: (m) => void seen[g]?.push(tradeOf(m)) });
  }
  const all = mergeByTime(btc, eth);
  // Publish in uneven chunks, as a source would.
  for (let i = 0; i < all.length; i += 37) await bus.publish('trades', all.slice(i, i + 37));
  await bus.drain();
  for (const g of ['a', 'b'] as const) {
    const got = seen[g] as Trade[];
    assert.equal(got.length, all.length, `group ${g} got every message`);
    for (const [pair, want] of [['BTC/USDT', btc], ['ETH/USDT', eth]] as const) {
      assert.deepEqual(
        got.filter((t) => t.pair === pair).map((t) => t.trade_id),
        want.map((t) => t.trade_id),
        `${pair} in recorded order for group ${g}`,
      );
    }
  }
  await bus.close();
});

test('meta carries the topic and the key of the message (the pair)', async () => {
  const { bus } = await newBus();
  const keys: (string | null)[] = [];
  await bus.consume({ group: 'meta', topics: ['trades'], handler: (_t, meta) => void keys.push(meta.key) });
  await bus.publish('trades', [btc[0] as Trade, eth[0] as Trade]);
  await bus.drain();
  assert.deepEqual(keys, ['BTC/USDT', 'ETH/USDT']);
  await bus.close();
});

test('publishing an invalid message throws and publishes nothing', async () => {
  const { bus } = await newBus();
  const got: Trade[] = [];
  await bus.consume({ group: 'g', topics: ['trades'], handler: (m) => void got.push(tradeOf(m)) });
  const bad = { ...(btc[1] as Trade), price: Number.NaN };
  await assert.rejects(bus.publish('trades', [btc[0] as Trade, bad]), /refusing to publish invalid trades message: .*price/);
  await bus.drain();
  assert.equal(got.length, 0);
  await bus.close();
});

test('bad payloads go to dlq.trades with a reason; the consumer keeps going', async () => {
  const { bus } = await newBus();
  const good = btc.slice(0, 12);
  const base = JSON.stringify(good[0]);
  const obj = () => ({ ...(good[0] as Trade) }) as Record<string, unknown>;
  const withoutTs = obj();
  delete withoutTs.ts_ms;
  const huge = JSON.stringify({ ...(good[0] as Trade), trade_id: 'x'.repeat(1024 * 1024 + 10) });
  const cases: { name: string; value: string | null; reason: RegExp; kind: string }[] = [
    { name: 'malformed JSON', value: base.slice(0, 40), reason: /^malformed JSON/, kind: 'malformed_json' },
    { name: 'wrong type (price as text)', value: JSON.stringify({ ...obj(), price: '61837.63' }), reason: /^schema: .*\/price/, kind: 'schema' },
    { name: 'missing field', value: JSON.stringify(withoutTs), reason: /^schema: .*ts_ms/, kind: 'schema' },
    { name: 'NaN literal', value: base.replace(/"price":[0-9.]+/, '"price":NaN'), reason: /^malformed JSON/, kind: 'malformed_json' },
    { name: 'NaN as text', value: JSON.stringify({ ...obj(), qty: 'NaN' }), reason: /^schema: .*\/qty/, kind: 'schema' },
    { name: 'Infinity literal', value: base.replace(/"qty":[0-9.]+/, '"qty":Infinity'), reason: /^malformed JSON/, kind: 'malformed_json' },
    { name: 'Infinity as an overflowing number', value: base.replace(/"price":[0-9.]+/, '"price":1e999'), reason: /^schema: .*\/price/, kind: 'schema' },
    { name: 'negative price', value: base.replace(/"price":[0-9.]+/, '"price":-1'), reason: /^schema: .*\/price/, kind: 'schema' },
    { name: 'unknown side', value: JSON.stringify({ ...obj(), side: 'long' }), reason: /^schema: .*\/side/, kind: 'schema' },
    { name: 'empty payload', value: null, reason: /^empty payload/, kind: 'empty' },
    { name: 'huge payload > 1 MiB', value: huge, reason: /^payload too large: \d+ bytes > 1048576 \(payload truncated from \d+ bytes\)/, kind: 'too_large' },
  ];
  const before = await counterValue(deadLetters(), { topic: 'trades' });
  const processed: string[] = [];
  const dead: DeadLetter[] = [];
  await bus.consume({ group: 'svc', topics: ['trades'], handler: (m) => void processed.push(tradeOf(m).trade_id) });
  await bus.consumeDeadLetters({ group: 'dlq-reader', topics: ['trades'], handler: (dl) => void dead.push(dl) });

  // bad, good, bad, good, ...: each good one must still be processed.
  for (const [i, c] of cases.entries()) {
    await bus.publishRaw('trades', [{ key: 'BTC/USDT', value: c.value }]);
    await bus.publish('trades', [good[i] as Trade]);
  }
  await bus.drain();

  assert.deepEqual(processed, good.slice(0, cases.length).map((t) => t.trade_id), 'every good message processed, in order');
  assert.equal(dead.length, cases.length, 'one dead letter per bad payload');
  for (const [i, c] of cases.entries()) {
    const dl = dead[i] as DeadLetter;
    assert.equal(dl.topic, 'trades', c.name);
    assert.equal(dl.source, 'svc', c.name);
    assert.match(dl.reason, c.reason, c.name);
    if (c.value !== null && Buffer.byteLength(c.value) <= 64 * 1024) assert.equal(dl.payload, c.value, `${c.name}: payload kept as received`);
  }
  const hugeDl = dead[cases.length - 1] as DeadLetter;
  assert.equal(Buffer.byteLength(hugeDl.payload), 64 * 1024, 'huge payload truncated to 64 KiB');
  assert.ok(huge.startsWith(hugeDl.payload), 'truncated payload is a prefix of the original');
  assert.equal((await counterValue(deadLetters(), { topic: 'trades' })) - before, cases.length, 'tickcast_dead_letters_total counts them');
  await bus.close();
});

test('every stream dead-letters malformed and incomplete payloads', async () => {
  const { bus } = await newBus();
  const keys = Object.keys(Topics) as TopicKey[];
  const dead: DeadLetter[] = [];
  let handled = 0;
  await bus.consume({ group: 'all', topics: keys, handler: () => void handled++ });
  await bus.consumeDeadLetters({ group: 'dlq-all', topics: keys, handler: (dl) => void dead.push(dl) });
  for (const k of keys) {
    await bus.publishRaw(Topics[k].name, [{ key: 'k', value: '{not json' }]);
    await bus.publishRaw(Topics[k].name, [{ key: 'k', value: '{}' }]);
  }
  await bus.drain();
  assert.equal(handled, 0);
  for (const k of keys) {
    const mine = dead.filter((d) => d.topic === Topics[k].name);
    assert.equal(mine.length, 2, `two dead letters for ${Topics[k].name}`);
    assert.match(mine[0]?.reason ?? '', /^malformed JSON/);
    assert.match(mine[1]?.reason ?? '', /^schema: .*required/i);
  }
  await bus.close();
});

test('a failing handler is retried, then its message is dead-lettered; the next one is processed', async () => {
  const { bus } = await newBus();
  const msgs = btc.slice(0, 5);
  const flaky = msgs[1]?.trade_id;
  const poison = msgs[3]?.trade_id;
  const attempts = new Map<string, number>();
  const done: string[] = [];
  const dead: DeadLetter[] = [];
  const retriesBefore = await counterValue(handlerRetries(), { group: 'retry' });
  await bus.consume({
    group: 'retry',
    topics: ['trades'],
    handler: (m) => {
      const t = tradeOf(m);
      const n = (attempts.get(t.trade_id) ?? 0) + 1;
      attempts.set(t.trade_id, n);
      if (t.trade_id === flaky && n < 3) throw new Error('store unavailable');
      if (t.trade_id === poison) throw new Error('boom');
      done.push(t.trade_id);
    },
  });
  await bus.consumeDeadLetters({ group: 'retry-dlq', topics: ['trades'], handler: (dl) => void dead.push(dl) });
  await bus.publish('trades', msgs);
  await bus.drain();
  assert.deepEqual(done, msgs.filter((t) => t.trade_id !== poison).map((t) => t.trade_id), 'flaky succeeded on retry; others processed in order');
  assert.equal(attempts.get(flaky as string), 3, 'flaky: 1 attempt + 2 retries');
  assert.equal(attempts.get(poison as string), 3, 'poison: bounded attempts (1 + retries=2)');
  assert.equal(dead.length, 1);
  assert.match(dead[0]?.reason ?? '', /^handler: boom \(after 3 attempts\)$/);
  assert.equal(JSON.parse(dead[0]?.payload ?? '{}').trade_id, poison, 'the dead letter holds the poison message');
  assert.equal((await counterValue(handlerRetries(), { group: 'retry' })) - retriesBefore, 4);
  await bus.close();
});

test('a stopped group resumes at its committed position; new groups start at the end or the beginning', async () => {
  const { bus } = await newBus();
  const first: string[] = [];
  const sub = await bus.consume({ group: 'resume', topics: ['trades'], fromBeginning: true, handler: (m) => void first.push(tradeOf(m).trade_id) });
  await bus.publish('trades', btc.slice(0, 100));
  await bus.drain();
  await sub.stop();
  await bus.publish('trades', btc.slice(100, 250)); // while the group is down
  const second: string[] = [];
  await bus.consume({ group: 'resume', topics: ['trades'], fromBeginning: true, handler: (m) => void second.push(tradeOf(m).trade_id) });
  const late: string[] = [];
  await bus.consume({ group: 'late', topics: ['trades'], handler: (m) => void late.push(tradeOf(m).trade_id) });
  const replay: string[] = [];
  await bus.consume({ group: 'replay', topics: ['trades'], fromBeginning: true, handler: (m) => void replay.push(tradeOf(m).trade_id) });
  await bus.publish('trades', btc.slice(250, 300));
  await bus.drain();
  const ids = (a: Trade[]) => a.map((t) => t.trade_id);
  assert.deepEqual(first, ids(btc.slice(0, 100)));
  assert.deepEqual(second, ids(btc.slice(100, 300)), 'no loss, no repeat across the restart');
  assert.deepEqual(late, ids(btc.slice(250, 300)), 'a new group starts at the end');
  assert.deepEqual(replay, ids(btc.slice(0, 300)), 'a new group with fromBeginning reads what is retained');
  await bus.close();
});

test('one consumer per group on the in-process bus', async () => {
  const { bus } = await newBus();
  await bus.consume({ group: 'solo', topics: ['trades'], handler: () => {} });
  await assert.rejects(bus.consume({ group: 'solo', topics: ['candles'], handler: () => {} }), /already has a consumer/);
  await bus.close();
});

test('drain waits for work that handlers publish downstream', async () => {
  const { bus } = await newBus();
  const predictions: string[] = [];
  // trades -> (a stand-in stage) -> predictions
  await bus.consume({
    group: 'stage',
    topics: ['trades'],
    handler: async (m) => {
      const t = tradeOf(m);
      await new Promise((r) => setImmediate(r));
      await bus.publish('predictions', [
        {
          pair: t.pair,
          made_at_ms: t.ts_ms,
          target_ms: t.ts_ms + 300_000,
          horizon_s: 300,
          predicted_price: t.price,
          last_close: t.price,
          model_name: 'persistence',
          model_version: 'v0',
        },
      ]);
    },
  });
  await bus.consume({ group: 'sink', topics: ['predictions'], handler: (p) => void predictions.push(`${p.pair}|${p.made_at_ms}`) });
  const input = mergeByTime(btc.slice(0, 50), eth.slice(0, 50));
  await bus.publish('trades', input);
  await bus.drain();
  assert.deepEqual(predictions, input.map((t) => `${t.pair}|${t.ts_ms}`));
  await bus.close();
});

test('a publisher waits while a consumer lags beyond the high-water mark (bounded memory)', async () => {
  const { bus, transport } = await newBus({ highWaterMark: 20, retainMessages: 10, maxRetainedMessages: 10 });
  let maxLag = 0;
  const got: string[] = [];
  await bus.consume({
    group: 'slow',
    topics: ['trades'],
    handler: async (m) => {
      const t = tradeOf(m);
      maxLag = Math.max(maxLag, transport.lag('slow', 'trades'));
      await new Promise((r) => setImmediate(r));
      got.push(t.trade_id);
    },
  });
  for (const t of btc.slice(0, 300)) await bus.publish('trades', [t]);
  await bus.drain();
  assert.deepEqual(got, btc.slice(0, 300).map((t) => t.trade_id), 'nothing lost under backpressure');
  assert.ok(maxLag <= 21, `lag stayed near the high-water mark (max ${maxLag})`);
  await bus.close();
});

test('trade batches count as their trades: backpressure and retention bound trades, not messages', async () => {
  // 4000 trades (the real 400, ids shifted 10 times) as 40 batches of 100.
  const trades = Array.from({ length: 10 }, (_, k) => btc.map((t) => ({ ...t, trade_id: String(Number(t.trade_id) + k * 1e9) }))).flat();
  const batches = Array.from({ length: 40 }, (_, i) => batchOf(trades.slice(i * 100, i * 100 + 100)));
  const { bus } = await newBus({ highWaterMark: 50, retainMessages: 100, maxRetainedMessages: 100 });
  let sent = 0;
  let processed = 0;
  let maxBacklog = 0;
  const got: string[] = [];
  await bus.consume({
    group: 'slow',
    topics: ['trades'],
    handler: async (m) => {
      maxBacklog = Math.max(maxBacklog, sent - processed);
      await new Promise((r) => setImmediate(r));
      if (!isTradeBatch(m)) throw new Error('expected a batch');
      got.push(...m.trade_id);
      processed += m.trade_id.length;
    },
  });
  for (const b of batches) {
    sent += b.trade_id.length;
    await bus.publish('trades', [b]);
  }
  await bus.drain();
  assert.deepEqual(got, trades.map((t) => t.trade_id), 'nothing lost under backpressure');
  // Counted in messages the high-water mark (50) would let all 40 batches (4000 trades) pile up.
  assert.ok(maxBacklog <= 50 + 100, `the backlog stayed within the high-water mark plus one batch, in trades (max ${maxBacklog})`);
  // Retention: consumed records are trimmed once more than retain + 1024 trades are held, down to retain (100).
  let retained = 0;
  await bus.consume({ group: 'late', topics: ['trades'], fromBeginning: true, handler: (m) => void (retained += isTradeBatch(m) ? m.trade_id.length : 1) });
  await bus.drain();
  assert.ok(retained > 0 && retained <= 100 + 1024 + 100, `a late reader from the beginning finds at most ~retain + 1024 trades retained (${retained}), not all 4000`);
  await bus.close();
});

test('batch consumers get batches in order; a bad payload is dead-lettered and a failing message alone is, after the batch retries', async () => {
  const { bus } = await newBus();
  const msgs = btc.slice(0, 40);
  const poison = msgs[17]?.trade_id;
  const batches: string[][] = [];
  const done: string[] = [];
  const dead: DeadLetter[] = [];
  await bus.consumeDeadLetters({ group: 'batch-dlq', topics: ['trades'], handler: (dl) => void dead.push(dl) });
  await bus.consumeBatch({
    group: 'batch',
    topics: ['trades'],
    maxBatch: 16,
    handler: (events, metas) => {
      const ts = events.map(tradeOf);
      assert.equal(ts.length, metas.length);
      batches.push(ts.map((t) => t.trade_id));
      if (ts.some((t) => t.trade_id === poison)) throw new Error('boom');
      for (const t of ts) if (!done.includes(t.trade_id)) done.push(t.trade_id);
    },
  });
  await bus.publish('trades', msgs.slice(0, 10));
  await bus.publishRaw('trades', [{ key: 'BTC/USDT', value: '{"price":' }]);
  await bus.publish('trades', msgs.slice(10));
  await bus.drain();
  assert.ok(batches.some((b) => b.length > 1), 'delivered in batches');
  assert.ok(batches.every((b) => b.length <= 16), 'at most maxBatch per call');
  assert.deepEqual(done, msgs.filter((t) => t.trade_id !== poison).map((t) => t.trade_id), 'every other message processed, in order');
  assert.equal(dead.length, 2);
  assert.match(dead[0]?.reason ?? '', /^malformed JSON/);
  assert.match(dead[1]?.reason ?? '', /^handler: boom \(after 3 attempts\)$/);
  assert.equal(JSON.parse(dead[1]?.payload ?? '{}').trade_id, poison, 'the dead letter holds the poison message');
  await bus.close();
});

test('in-process: consumers get copies of what passed the schema; neither the publisher nor another group can change them', async () => {
  const { bus } = await newBus();
  const a: Trade[] = [];
  const b: Trade[] = [];
  await bus.consume({ group: 'a', topics: ['trades'], handler: (t) => { a.push({ ...tradeOf(t) }); (t as { price: number }).price = -1; } });
  await bus.consumeBatch({ group: 'b', topics: ['trades'], handler: (ts) => void b.push(...ts.map(tradeOf)) });
  const mine = btc.slice(0, 5).map((t) => ({ ...t }));
  const sent = mine.map((t) => ({ ...t }));
  await bus.publish('trades', mine);
  for (const t of mine) t.price = Number.NaN; // the publisher reuses its objects
  await bus.drain();
  assert.deepStrictEqual(a, sent);
  assert.deepStrictEqual(b, sent, 'group b sees neither the publisher\'s nor group a\'s change');
  await bus.close();
});
