/**
 * The bus against a REAL Kafka broker (TICKCAST_TEST_KAFKA_BROKERS, exported by
 * scripts/services/with-services.sh). Every run uses its own topic prefix and
 * group ids, so reruns never collide.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { Bus, allTopicNames } from '../../src/bus/bus.ts';
import { KafkaTransport } from '../../src/bus/kafka.ts';
import { Topics, dlqTopic, type Trade, type TopicKey, type MessageOf } from '../../src/contracts/messages.ts';
import { mergeByTime, quietLogger, realTrades, tradeOf, waitFor } from './fixtures.ts';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/bus/kafka.test.ts';
function brokers(): string[] {
  const b = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  if (!b) throw new Error(`TICKCAST_TEST_KAFKA_BROKERS is not set: ${HOW}`);
  return b.split(',');
}

const RUN = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}-`;
const PARTITIONS = 3;
const logger = quietLogger();
const open: Bus[] = [];

function transport(prefix = RUN): KafkaTransport {
  return new KafkaTransport({
    logger,
    brokers: brokers(),
    clientId: 'tickcast-test',
    partitions: PARTITIONS,
    replicationFactor: 1,
    topicPrefix: prefix,
    sessionTimeoutMs: 6000,
    lagIntervalMs: 0,
  });
}

async function newBus(prefix = RUN): Promise<Bus> {
  const bus = new Bus(transport(prefix), { logger, retries: 1, retryBaseMs: 10 });
  open.push(bus);
  await bus.start();
  return bus;
}

after(async () => {
  await Promise.all(open.map((b) => b.close().catch(() => {})));
});

const ids = (ts: Trade[]) => ts.map((t) => t.trade_id);

test('topics and their dlq are created with the configured partitions, idempotently', { timeout: 120_000 }, async () => {
  const prefix = `${RUN}create-`;
  await newBus(prefix);
  const again = await transport(prefix).createTopics(allTopicNames());
  assert.deepEqual(again, [], 'a second start creates nothing');
  const admin = new Kafka({ clientId: 'check', brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: allTopicNames().map((t) => `${prefix}${t}`) });
    assert.equal(topics.length, allTopicNames().length, 'every stream, its dead-letter topic and the candles state changelog');
    assert.equal(allTopicNames().length, 2 * Object.keys(Topics).length + 1);
    for (const t of topics) assert.equal(t.partitions.length, PARTITIONS, t.name);
    assert.ok(topics.some((t) => t.name === `${prefix}dlq.features.technical`));
    // The changelog is compacted (the latest state per key is kept forever); a stream is not.
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [`${prefix}candles-state-changelog`, `${prefix}trades`].map((name) => ({ type: 2 /* ConfigResourceTypes.TOPIC */, name, configNames: ['cleanup.policy'] })),
    });
    const policy = new Map(cfg.resources.map((r) => [r.resourceName, r.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue]));
    assert.equal(policy.get(`${prefix}candles-state-changelog`), 'compact');
    assert.equal(policy.get(`${prefix}trades`), 'delete');
  } finally {
    await admin.disconnect();
  }
});

test('produce and consume through the bus: every message, each pair in order, keyed by pair', { timeout: 120_000 }, async () => {
  const bus = await newBus(`${RUN}roundtrip-`);
  const input = mergeByTime(realTrades('BTC/USDT', 300), realTrades('ETH/USDT', 300));
  const got: Trade[] = [];
  const partitionOf = new Map<string, Set<number>>();
  await bus.consume({
    group: `${RUN}roundtrip`,
    topics: ['trades'],
    fromBeginning: true,
    handler: (m, meta) => {
      const t = tradeOf(m);
      got.push(t);
      assert.equal(meta.key, t.pair);
      const s = partitionOf.get(t.pair) ?? new Set();
      s.add(meta.partition);
      partitionOf.set(t.pair, s);
    },
  });
  await bus.publish('trades', input);
  await waitFor(() => got.length >= input.length, `${input.length} trades`, 60_000);
  assert.equal(got.length, input.length);
  for (const pair of ['BTC/USDT', 'ETH/USDT']) {
    assert.deepEqual(ids(got.filter((t) => t.pair === pair)), ids(input.filter((t) => t.pair === pair)), `${pair} in order`);
    assert.equal(partitionOf.get(pair)?.size, 1, `${pair} stays in one partition`);
  }
});

interface ChildRun {
  keys: string[];
  /** partition:offset of each delivery. */
  positions: string[];
  crashed: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Run the consumer child; SIGKILL it after `killAfter` processed messages (if set). */
function runChild(prefix: string, group: string, opts: { killAfter?: number; exitAt?: number }): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./kafka-consumer-child.ts', import.meta.url))], {
    env: {
      ...process.env,
      BROKERS: brokers().join(','),
      PREFIX: prefix,
      GROUP: group,
      EXIT_AT: String(opts.exitAt ?? 0),
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const run: ChildRun = { keys: [], positions: [], crashed: false, code: null, signal: null };
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('P ')) {
      const [, key, pos] = line.split(' ');
      run.keys.push(key as string);
      run.positions.push(pos as string);
      if (opts.killAfter !== undefined && run.keys.length === opts.killAfter) child.kill('SIGKILL');
    } else if (line === 'CRASH') run.crashed = true;
  });
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`consumer child did not stop in time; stderr:\n${stderr.slice(-2000)}`));
    }, 90_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      run.code = code;
      run.signal = signal;
      setImmediate(() => resolve(run));
    });
  });
}

/**
 * Per pair, a consumer never skips ahead: the recording's trade ids are consecutive, so
 * each delivery of a pair is either the next id (in order) or an id already passed (a
 * redelivery from the last committed offset after a crash or a rebalance).
 */
function assertOrderedPerPair(keys: string[], what: string): void {
  const last = new Map<string, bigint>();
  for (const k of keys) {
    const [, pair, id] = k.split('|') as [string, string, string];
    const prev = last.get(pair);
    assert.ok(prev === undefined || BigInt(id) <= prev + 1n, `${what}: ${pair} skipped ahead from ${prev} to ${id}`);
    last.set(pair, BigInt(id));
  }
}

test(
  'a consumer killed or crashing before commit, and one stopped mid-stream, lose nothing: each natural key lands exactly once in an idempotent sink',
  { timeout: 300_000 },
  async (t) => {
    const prefix = `${RUN}restart-`;
    const bus = await newBus(prefix);
    const input = mergeByTime(realTrades('BTC/USDT', 400), realTrades('ETH/USDT', 400));
    const byKey = new Map(input.map((x) => [Topics.trades.naturalKey(x), x]));
    assert.equal(byKey.size, input.length, 'natural keys of the input are distinct');
    await bus.publish('trades', input);
    const group = `${RUN}restart`;
    const sink = new Map<string, Trade>(); // the store stand-in: upsert by natural key
    const processed: string[] = [];
    const upsert = (key: string) => {
      const trade = byKey.get(key);
      assert.ok(trade, `unknown key ${key}`);
      sink.set(key, trade);
      processed.push(key);
    };

    // 1. A consumer process killed (SIGKILL) after 150 messages: no chance to commit what it did since the last commit.
    const killed = await runChild(prefix, group, { killAfter: 150 });
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(killed.keys.length >= 150, `killed child processed ${killed.keys.length}`);
    assertOrderedPerPair(killed.keys, 'killed child');
    killed.keys.forEach(upsert);

    // 2. A consumer process that crashes inside its handler at the 120th message (processed, not committed).
    const crashed = await runChild(prefix, group, { exitAt: 120 });
    assert.ok(crashed.crashed, 'the child crashed in its handler');
    assert.equal(crashed.code, 70);
    assert.equal(crashed.keys.length, 120);
    assertOrderedPerPair(crashed.keys, 'crashed child');
    crashed.keys.forEach(upsert);

    // 3. A consumer stopped gracefully mid-stream after 100 messages.
    let seen3 = 0;
    let reached!: () => void;
    const hundred = new Promise<void>((r) => (reached = r));
    const phase3: string[] = [];
    const sub3 = await bus.consume({
      group,
      topics: ['trades'],
      handler: (m) => {
        const k = Topics.trades.naturalKey(m);
        phase3.push(k);
        upsert(k);
        if (++seen3 === 100) reached();
      },
    });
    await hundred;
    await sub3.stop();
    assertOrderedPerPair(phase3, 'graceful phase');

    // 4. The same group again, until the sink holds every key.
    const phase4: string[] = [];
    const pos4: string[] = [];
    const span = (ps: string[]) => {
      const by = new Map<string, number[]>();
      for (const p of ps) {
        const [part, off] = p.split(':') as [string, string];
        by.set(part, [...(by.get(part) ?? []), Number(off)]);
      }
      return [...by].map(([p, o]) => `p${p}:${Math.min(...o)}..${Math.max(...o)}(${o.length})`).join(' ');
    };
    const sub4 = await bus.consume({
      group,
      topics: ['trades'],
      handler: (m, meta) => {
        const k = Topics.trades.naturalKey(m);
        pos4.push(`${meta.partition}:${meta.offset}`);
        phase4.push(k);
        upsert(k);
      },
    });
    await waitFor(
      () => sink.size >= input.length,
      () => `all ${input.length} keys in the sink (have ${sink.size}; killed ${killed.keys.length}, crashed ${crashed.keys.length}, graceful ${phase3.length}, final ${phase4.length}) killed[${span(killed.positions)}] crashed[${span(crashed.positions)}] final[${span(pos4)}]`,
      120_000,
    );
    // Let anything still in flight arrive, then stop (commits).
    await new Promise((r) => setTimeout(r, 500));
    await sub4.stop();
    const jumps = pos4.flatMap((p, i) => {
      const prev = pos4.slice(0, i).reverse().find((q) => q.split(':')[0] === p.split(':')[0]);
      return prev && Number(prev.split(':')[1]) >= Number(p.split(':')[1]) ? [`${prev}->${p}@${i}`] : [];
    });
    assertOrderedPerPair(phase4, `final phase (positions ${span(pos4)}; backward jumps ${jumps.join(' ')}; phase3 ${phase3.length})`);

    const union = new Set(processed);
    assert.equal(union.size, input.length, 'every message processed at least once');
    for (const k of byKey.keys()) assert.ok(union.has(k), `${k} was processed`);
    assert.equal(sink.size, input.length, 'each natural key exactly once in the idempotent sink');
    assert.deepEqual([...sink.keys()].sort(), [...byKey.keys()].sort());
    for (const [k, v] of sink) assert.deepEqual(v, byKey.get(k));
    assert.ok(processed.length >= input.length);
    t.diagnostic(
      `processed ${processed.length} deliveries for ${input.length} messages (${processed.length - input.length} redelivered): killed ${killed.keys.length}, crashed ${crashed.keys.length}, graceful ${phase3.length}, final ${phase4.length}`,
    );

    // Nothing left for the group: its committed offsets reached the end.
    const lag = await (bus.transport as KafkaTransport).lag(group, ['trades']);
    assert.equal(lag.get('trades'), 0, 'consumer lag is 0 after the group finished');
  },
);

/** One valid message per stream, written by hand from the contract. */
const samples: { [K in TopicKey]: MessageOf<K> } = {
  trades: { exchange: 'kraken', pair: 'BTC/USD', trade_id: '10218208', price: 105320.3, qty: 0.01, side: 'buy', ts_ms: 1762795433970 },
  candles: {
    exchange: 'kraken',
    pair: 'BTC/USD',
    interval_s: 60,
    window_start_ms: 1762795380000,
    window_end_ms: 1762795440000,
    open: 105320.3,
    high: 105330,
    low: 105300,
    close: 105310,
    volume: 0.5,
    buy_volume: 0.3,
    sell_volume: 0.2,
    vwap: 105315,
    trade_count: 4,
    filled: false,
  },
  featuresTechnical: { pair: 'BTC/USD', interval_s: 60, window_end_ms: 1762795440000, close: 105310, features: { rsi_14: 55.2, sma_20: null } },
  featuresBook: { exchange: 'kraken', pair: 'BTC/USD', interval_s: 60, window_end_ms: 1762795440000, features: { spread_twa: 0.1, ofi: -1.5, spread_close: null } },
  news: { id: 'n-1', source: 'coindesk', title: 'Bitcoin rises', url: 'https://example.com/a', published_ms: 1762795400000, summary: '' },
  sentiment: { news_id: 'n-1', coin: 'BTC', score: 0.4, model: 'lexicon', ts_ms: 1762795400000 },
  predictions: {
    pair: 'BTC/USD',
    made_at_ms: 1762795440000,
    target_ms: 1762795740000,
    horizon_s: 300,
    predicted_price: 105400,
    last_close: 105310,
    model_name: 'lgbm',
    model_version: 'v1',
  },
  predictionErrors: {
    pair: 'BTC/USD',
    target_ms: 1762795740000,
    predicted_price: 105400,
    actual_price: 105350,
    error: 50,
    abs_pct_error: 0.0475,
    model_version: 'v1',
  },
};

test('bad bytes on every stream, produced with a plain kafkajs producer, land in dlq.<topic> with a reason', { timeout: 180_000 }, async () => {
  const prefix = `${RUN}dlq-`;
  const bus = await newBus(prefix);
  const keys = Object.keys(Topics) as TopicKey[];
  const group = `${RUN}dlq`;
  const good: string[] = [];
  await bus.consume({ group, topics: keys, fromBeginning: true, handler: (_m, meta) => void good.push(meta.topicName) });

  const kafka = new Kafka({ clientId: 'raw', brokers: brokers(), logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const bad: Record<string, { value: string; reason: RegExp }[]> = {};
  for (const k of keys) {
    const name = Topics[k].name;
    const sample = samples[k] as Record<string, unknown>;
    const firstField = Object.keys(sample)[0] as string;
    bad[name] = [
      { value: '{"truncated": ', reason: /^malformed JSON/ },
      { value: '{}', reason: /^schema: .*required/i },
      { value: JSON.stringify({ ...sample, [firstField]: 12345 }), reason: new RegExp(`^schema: .*/${firstField}`) },
    ];
    await producer.send({
      topic: `${prefix}${name}`,
      messages: [...(bad[name] ?? []).map((b) => ({ key: 'BTC/USD', value: b.value })), { key: 'BTC/USD', value: JSON.stringify(sample) }],
    });
  }
  await producer.disconnect();

  // Read the dead letters back with a plain kafkajs consumer.
  const consumer = kafka.consumer({ groupId: `${RUN}dlq-reader`, sessionTimeout: 6000 });
  await consumer.connect();
  await consumer.subscribe({ topics: keys.map((k) => `${prefix}${dlqTopic(Topics[k].name)}`), fromBeginning: true });
  const dead: { topic: string; value: Record<string, unknown> }[] = [];
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      dead.push({ topic: topic.slice(prefix.length), value: JSON.parse(message.value?.toString() ?? 'null') });
    },
  });
  try {
    await waitFor(() => dead.length >= keys.length * 3 && good.length >= keys.length, 'dead letters of every stream', 90_000);
  } finally {
    await consumer.disconnect();
  }
  assert.deepEqual([...good].sort(), keys.map((k) => Topics[k].name).sort(), 'the good message of each stream was processed');
  for (const k of keys) {
    const name = Topics[k].name;
    const mine = dead.filter((d) => d.topic === dlqTopic(name)).map((d) => d.value);
    assert.equal(mine.length, 3, `three dead letters in dlq.${name}`);
    for (const [i, b] of (bad[name] ?? []).entries()) {
      const dl = mine[i] as Record<string, unknown>;
      assert.equal(dl.topic, name);
      assert.equal(dl.source, group, 'the group that rejected it');
      assert.equal(dl.payload, b.value, 'the payload as received');
      assert.match(String(dl.reason), b.reason, `${name} #${i}`);
      assert.equal(typeof dl.ts_ms, 'number');
    }
  }
});

test('consumer lag: committed offsets against end offsets', { timeout: 120_000 }, async () => {
  const bus = await newBus(`${RUN}lag-`);
  const t = bus.transport as KafkaTransport;
  const group = `${RUN}lag`;
  const input = realTrades('BTC/USDT', 50);
  const before = (await t.lag(group, ['trades'])).get('trades') ?? -1;
  assert.equal(before, 0, 'a fresh topic');
  await bus.publish('trades', input);
  assert.equal((await t.lag(group, ['trades'])).get('trades'), input.length, 'a group that never committed lags by everything');
  let n = 0;
  const sub = await bus.consume({ group, topics: ['trades'], fromBeginning: true, handler: () => void n++ });
  await waitFor(() => n >= input.length, 'all trades consumed', 60_000);
  await sub.stop();
  assert.equal((await t.lag(group, ['trades'])).get('trades'), 0);
});

test('a group that starts at the end and goes down before its first commit still gets what arrived meanwhile', { timeout: 120_000 }, async () => {
  const bus = await newBus(`${RUN}pin-`);
  await bus.publish('trades', realTrades('ETH/USDT', 20)); // history the group must not read
  const group = `${RUN}pin`;
  const first = await bus.consume({ group, topics: ['trades'], handler: () => assert.fail('nothing was published after the start') });
  await first.stop(); // committed nothing: no message reached it
  const meanwhile = realTrades('BTC/USDT', 30);
  await bus.publish('trades', meanwhile);
  const got: Trade[] = [];
  const again = await bus.consume({ group, topics: ['trades'], handler: (t) => void got.push(tradeOf(t)) });
  await waitFor(() => got.length >= meanwhile.length, () => `${meanwhile.length} trades (have ${got.length})`, 60_000);
  await again.stop();
  assert.deepEqual(ids(got), ids(meanwhile), 'exactly the messages published while the group was down, in order');
});

test('tickcast topics create makes every topic with the configured partitions, and a rerun creates nothing', { timeout: 120_000 }, () => {
  const prefix = `${RUN}cli-`;
  const bin = fileURLToPath(new URL('../../../bin/tickcast.js', import.meta.url));
  const env = { ...process.env, TICKCAST_KAFKA_BROKERS: brokers().join(','), TICKCAST_KAFKA_TOPIC_PREFIX: prefix, TICKCAST_KAFKA_PARTITIONS: '2', TICKCAST_KAFKA_REPLICATION_FACTOR: '1' };
  const first = spawnSync(process.execPath, [bin, 'topics', 'create'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(first.status, 0, first.stderr);
  for (const name of allTopicNames()) assert.match(first.stdout, new RegExp(`^created +${prefix.replace(/[.]/g, '\\.')}${name.replace(/[.]/g, '\\.')}$`, 'm'), name);
  assert.match(first.stdout, new RegExp(`^${allTopicNames().length} created, 0 already existed`, 'm'));
  const again = spawnSync(process.execPath, [bin, 'topics', 'create'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`^0 created, ${allTopicNames().length} already existed`, 'm'));
});

test('without a broker address the test says how to start the servers', () => {
  const saved = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  delete process.env.TICKCAST_TEST_KAFKA_BROKERS;
  try {
    assert.throws(() => brokers(), /start the test servers: bash scripts\/services\/with-services.sh/);
  } finally {
    if (saved !== undefined) process.env.TICKCAST_TEST_KAFKA_BROKERS = saved;
  }
});
