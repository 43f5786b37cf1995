/**
 * Scale-out under rebalances (issue 19.2), as processes on the real Kafka
 * broker and Elasticsearch node: real Kraken XBT/USD trades (one hour)
 * shifted and scaled into many pairs, topics of 6 partitions, several
 * `tickcast run candles` and `run features` instances in one group each,
 * instances added, stopped (SIGTERM) and killed (SIGKILL) between chunks of
 * the stream. One kill is the issue's case: the candles instance owning a
 * pair's partition is killed with SIGKILL 20 s into a minute, after it
 * processed and committed that minute's first trades; the minute must come
 * out whole (before the changelog it lost 12 of 47 trades).
 *
 * The reference is a single-instance in-process run of the same events: the
 * candle stage (the Rust aggregator) and the feature stage per pair. The
 * stored candles and feature rows must equal it exactly (by natural key and
 * value), and nothing may reach dlq.trades or dlq.candles.
 *
 * Shape: TICKCAST_TEST_REBALANCE_PAIRS (default 12) pairs; `make soak` runs
 * 20 pairs (the issue's shape for the candles and features stages).
 * TICKCAST_TEST_REBALANCE_BROKER_KILL=1 also kills the broker once (passed
 * with 12 pairs; with 20 pairs the last candles instance was gone after the
 * outage once: under investigation, so `make soak` does not set it yet).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isHeartbeat, type Candle, type TechnicalFeatures, type Trade, type TradeEvent } from '../../src/contracts/messages.ts';
import { Bus, KafkaTransport } from '../../src/bus/index.ts';
import { CandleStage } from '../../src/pipeline/candle-stage.ts';
import { FeatureStage } from '../../src/pipeline/feature-stage.ts';
import { readTradeCsv } from '../../src/sources/index.ts';
import { openStores } from '../../src/stores/index.ts';
import type { Stores } from '../../src/stores/types.ts';
import { silentLogger } from '../sources/helpers.ts';
import { esUrl, deleteIndices } from '../stores/es-test-env.ts';
import { testData } from '../fixtures/test-data.ts';
import { chunkCuts, sleep, spawnTickcast, splitAt, until, type Proc } from '../fixtures/service-procs.ts';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/pipeline/rebalance.test.ts';
const GRACE_MS = 5000;
const PARTITIONS = 6;
const NPAIRS = Number(process.env.TICKCAST_TEST_REBALANCE_PAIRS ?? 12);
const CHUNKS = 8;
/** Also kill the broker once (TICKCAST_TEST_REBALANCE_BROKER_KILL=1; needs TICKCAST_TEST_KAFKA_CTL). */
const BROKER_KILL = process.env.TICKCAST_TEST_REBALANCE_BROKER_KILL === '1';
const MIN = 60_000;


const pairName = (i: number) => `K${String(i).padStart(2, '0')}/USD`;
const key = (x: { pair: string; window_end_ms: number }) => `${x.pair}|${x.window_end_ms}`;

test(`candles and features scaled out on 6 partitions, ${NPAIRS} pairs, instances added, stopped and killed (SIGKILL mid-minute too): stored rows equal a single-instance run, no dead letters`, { timeout: 600_000 }, async () => {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  if (!brokers) throw new Error(`TICKCAST_TEST_KAFKA_BROKERS is not set: ${HOW}`);
  const es = esUrl();

  // Real trades, one hour, made into NPAIRS pairs: pair i shifted by i * 7 s (its minutes cut the tape elsewhere), prices x (1 + i/100), sizes x (1 + i/50).
  const source: Trade[] = [];
  for await (const b of readTradeCsv(testData('trades/kraken_XBTUSD_trades_20190701T0000-0100.csv'), { exchange: 'kraken' })) source.push(...b.trades);
  const t0 = Math.floor((source[0] as Trade).ts_ms / MIN) * MIN;
  const tEnd = (source[source.length - 1] as Trade).ts_ms;
  const trades: Trade[] = [];
  for (let i = 0; i < NPAIRS; i++) {
    for (const t of source) {
      trades.push({ ...t, pair: pairName(i), ts_ms: t.ts_ms + i * 7000, price: Number((t.price * (1 + i / 100)).toFixed(2)), qty: Number((t.qty * (1 + i / 50)).toFixed(8)) });
    }
  }
  trades.sort((a, b) => a.ts_ms - b.ts_ms); // one stream, as a live source sends it (order per pair kept: stable sort)
  const finalMs = Math.ceil((tEnd + NPAIRS * 7000) / MIN) * MIN + MIN;
  const finals: TradeEvent[] = Array.from({ length: NPAIRS }, (_, i) => ({ kind: 'heartbeat', exchange: 'kraken', pair: pairName(i), ts_ms: finalMs, final: true }));

  // Chunk ends: 20 s into a minute of pair 0 (its open minute at the cut holds trades on both sides).
  const cuts = chunkCuts(t0, tEnd, CHUNKS);
  const chunks: TradeEvent[][] = splitAt(trades, cuts, finals);

  // The reference: one in-process run (the candle stage, then the feature stage on its candles), chunk by chunk
  // (the aggregator gives the same candles however its input is split): what each chunk closes is due after it.
  const want = { candles: new Map<string, Candle>(), features: new Map<string, TechnicalFeatures>() };
  const dueAfter: string[][] = [];
  {
    const stage = new CandleStage({ graceMs: GRACE_MS });
    const feat = new FeatureStage(60);
    for (const chunk of chunks) {
      const closed: Candle[] = [];
      const ts = chunk.filter((e): e is Trade => !('kind' in e));
      const out = stage.pushMany(ts);
      assert.equal(out.late.length + out.rejected.length, 0, 'the reference has no late or rejected trade');
      closed.push(...out.candles);
      for (const f of chunk) if (isHeartbeat(f)) closed.push(...stage.advance(f.ts_ms, f.pair, f.exchange));
      for (const c of closed) {
        want.candles.set(key(c), c);
        const r = feat.onCandle(c);
        if (r.kind === 'row') want.features.set(key(r.row), r.row);
      }
      dueAfter.push(closed.map(key));
    }
  }
  assert.ok(want.candles.size >= NPAIRS * 60, `reference candles: ${want.candles.size}`);

  const run = `t-rebal-${Date.now()}-`;
  const dirs: string[] = [];
  const base = {
    TICKCAST_MODE: 'production',
    TICKCAST_KAFKA_BROKERS: brokers,
    TICKCAST_KAFKA_TOPIC_PREFIX: run,
    TICKCAST_KAFKA_PARTITIONS: String(PARTITIONS),
    TICKCAST_KAFKA_REPLICATION_FACTOR: '1',
    TICKCAST_KAFKA_SESSION_TIMEOUT_MS: '6000',
    TICKCAST_ES_URL: es,
    TICKCAST_ES_INDEX_PREFIX: run,
    TICKCAST_HTTP_HOST: '127.0.0.1',
    TICKCAST_HTTP_PORT: '0',
    TICKCAST_CANDLE_GRACE_MS: String(GRACE_MS),
  };
  const procs: Proc[] = [];
  let serial = 0;
  const start = (what: 'candles' | 'features'): Proc => {
    const d = mkdtempSync(join(tmpdir(), 'tickcast-rebal-'));
    dirs.push(d);
    const p = spawnTickcast(`${what}-${++serial}`, ['run', what], { ...base, TICKCAST_DATA_DIR: d });
    procs.push(p);
    return p;
  };
  const live = (what: string) => procs.filter((p) => p.name.startsWith(what) && p.child.exitCode === null && p.child.signalCode === null);
  const events: string[] = [];
  const act = async (what: string, f: () => Promise<unknown> | unknown) => {
    events.push(what);
    await f();
  };
  const kill = async (p: Proc, signal: NodeJS.Signals) => {
    p.child.kill(signal);
    const r = await p.exited;
    if (signal === 'SIGTERM') assert.equal(r.code, 0, `${p.name} stops cleanly: ${p.text()}`);
  };

  const bus = new Bus(
    new KafkaTransport({ logger: silentLogger, brokers: brokers.split(','), clientId: 'tickcast-rebalance-test', partitions: PARTITIONS, replicationFactor: 1, topicPrefix: run, sessionTimeoutMs: 6000 }),
    { logger: silentLogger },
  );
  let stores: Stores | null = null;
  const seen = new Map<string, Candle>();
  const partitionOf = new Map<string, number>();
  const dead: { topic: string; reason: string }[] = [];
  try {
    await bus.start();
    await bus.consume({
      group: 'observer',
      topics: ['candles'],
      fromBeginning: true,
      handler: (c, m) => {
        seen.set(key(c), c);
        partitionOf.set(c.pair, m.partition);
      },
    });
    await bus.consumeDeadLetters({ group: 'observer-dlq', topics: ['trades', 'candles'], fromBeginning: true, handler: (d, m) => void dead.push({ topic: m.topicName, reason: d.reason }) });
    start('candles');
    start('features');
    const transport = bus.transport as KafkaTransport;
    const caughtUp = async () => ((await transport.lag('candles', ['trades'])).get('trades') ?? 1) === 0;

    for (let k = 0; k < chunks.length; k++) {
      const chunk = chunks[k] as TradeEvent[];
      for (let i = 0; i < chunk.length; i += 500) await bus.publish('trades', chunk.slice(i, i + 500));
      const lastMs = k < cuts.length ? (cuts[k] as number) : finalMs;
      // Every candle closed by this chunk for every pair (watermark: pair's latest time - grace) seen, and the trades committed.
      const due = dueAfter.slice(0, k + 1).flat();
      await until(async () => due.every((x) => seen.has(x)) && (await caughtUp()), () => `chunk ${k}: ${due.filter((x) => !seen.has(x)).length} of ${due.length} candles (${procs.filter((p) => p.name.startsWith('candles')).map((p) => `${p.name} exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'}: ${p.text().slice(-800)}`).join('\n')})`, 120_000, 300);
      if (k === 0) await act('add candles + features', () => (start('candles'), start('features')));
      if (k === 1) await act('add candles + features', () => (start('candles'), start('features')));
      if (k === 2) {
        // The issue's case: SIGKILL the owner of pair 0's partition, 20 s into pair 0's minute (its first trades processed and committed).
        const p0 = partitionOf.get(pairName(0));
        assert.ok(p0 !== undefined);
        const owner = live('candles').find((p) => {
          const a = p.logs.filter((l) => l.msg === 'candles partitions assigned: state restored from the changelog before consuming').at(-1);
          return (a?.assigned as number[] | undefined)?.includes(p0);
        });
        assert.ok(owner, `a live candles instance owns partition ${p0}`);
        const openWindow = Math.floor((lastMs - 1) / MIN) * MIN;
        assert.ok(!seen.has(`${pairName(0)}|${openWindow + MIN}`), 'pair 0 minute at the kill is still open');
        assert.ok(trades.some((t) => t.pair === pairName(0) && t.ts_ms >= openWindow && t.ts_ms < lastMs), 'it has trades before the kill');
        assert.ok(trades.some((t) => t.pair === pairName(0) && t.ts_ms >= lastMs && t.ts_ms < openWindow + MIN), 'and after it');
        await act(`SIGKILL ${owner.name} (owner of ${pairName(0)}, 20 s into its minute)`, () => kill(owner, 'SIGKILL'));
      }
      if (k === 3) await act('SIGTERM a features instance, add a candles instance', async () => (await kill(live('features')[0] as Proc, 'SIGTERM'), start('candles')));
      if (k === 4) await act('SIGKILL a features instance, add one', async () => (await kill(live('features')[0] as Proc, 'SIGKILL'), start('features')));
      if (k === 5) await act('SIGTERM a candles instance', () => kill(live('candles')[0] as Proc, 'SIGTERM'));
      if (k === 5 && BROKER_KILL) {
        // The broker itself killed with SIGKILL and started again (make soak).
        await act('broker SIGKILL, down 15 s, started again', async () => {
          execFileSync(process.env.TICKCAST_TEST_KAFKA_CTL as string, ['kill9'], { stdio: 'ignore' });
          await sleep(15_000);
          execFileSync(process.env.TICKCAST_TEST_KAFKA_CTL as string, ['start'], { stdio: 'ignore' });
        });
      }
      if (k === 6) await act('SIGKILL a candles instance', () => kill(live('candles')[0] as Proc, 'SIGKILL'));
    }

    stores = await openStores({ kind: 'elasticsearch', node: es, indexPrefix: run }, silentLogger);
    const readAll = async () => {
      const got = { candles: new Map<string, Candle>(), features: new Map<string, TechnicalFeatures>() };
      for (let i = 0; i < NPAIRS; i++) {
        for (const c of await (stores as Stores).features.candles.range({ pair: pairName(i), interval_s: 60 })) got.candles.set(key(c), c);
        for (const f of await (stores as Stores).features.technical.range({ pair: pairName(i), interval_s: 60 })) got.features.set(key(f), f);
      }
      return got;
    };
    let got = await readAll();
    await until(
      async () => {
        got = await readAll();
        return got.candles.size >= want.candles.size && got.features.size >= want.features.size;
      },
      () => `${want.candles.size} candles and ${want.features.size} feature rows stored (have ${got.candles.size}, ${got.features.size}; ${live('features').map((p) => p.text().slice(-600)).join('\n')})`,
      120_000,
      1000,
    );
    const diff = (a: Map<string, unknown>, b: Map<string, unknown>) => {
      const out: string[] = [];
      for (const k of b.keys()) if (!a.has(k)) out.push(`missing ${k}`);
      for (const [k, v] of a) {
        if (!b.has(k)) out.push(`extra ${k}`);
        else if (JSON.stringify(v) !== JSON.stringify(b.get(k))) out.push(`differs ${k}: ${JSON.stringify(v)} vs ${JSON.stringify(b.get(k))}`);
      }
      return out;
    };
    const candleDiff = diff(got.candles, want.candles);
    const featureDiff = diff(got.features, want.features);
    const joins = (what: string) =>
      procs.filter((p) => p.name.startsWith(what)).flatMap((p) => p.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(`${what} partitions assigned`)));
    const restores = joins('candles').filter((l) => (l.restored as number[]).length > 0);
    const report = {
      pairs: NPAIRS,
      trades: trades.length,
      actions: events,
      candles_group_joins: joins('candles').length,
      features_group_joins: joins('features').length,
      restores: restores.length,
      restore_ms_max: Math.max(...restores.map((l) => Number(l.restore_ms))),
      restored_pairs_max: Math.max(...restores.map((l) => Number(l.pairs))),
      reference: { candles: want.candles.size, feature_rows: want.features.size },
      stored: { candles: got.candles.size, feature_rows: got.features.size },
      differences: { candles: candleDiff.length, feature_rows: featureDiff.length },
      dead_letters: dead.length,
    };
    console.log(JSON.stringify(report, null, 1));
    assert.deepEqual(candleDiff.slice(0, 10), [], 'stored candles equal the single-instance run');
    assert.deepEqual(featureDiff.slice(0, 10), [], 'stored feature rows equal the single-instance run');
    assert.deepEqual(dead, [], 'nothing dead-lettered');
    assert.ok(events.length >= 7, 'at least 7 membership changes');
    // The killed mid-minute pair's window came out whole: compared above; say which it was.
    const kept = live('candles').length + live('features').length;
    assert.ok(kept >= 2, 'instances left at the end');
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await bus.close().catch(() => undefined);
    await stores?.close().catch(() => undefined);
    await deleteIndices(es, run).catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
