/**
 * The production path under broker faults, as processes on the real Kafka
 * broker and Elasticsearch node: two `tickcast run ingest` replays (real
 * Binance BTC/USDT + ETH/USDT trades at 4x, real Kraken BTC/USD trades at
 * 24x: a compressed event clock), `run candles` and `run features`. The
 * broker is killed with SIGKILL at chosen seconds of an event-time minute and
 * started again on the same port and data (one broker lifecycle, to keep the
 * test short):
 *   A. 10 s into a minute, down about 20 s;
 *   B. 47 s into a minute, down about 60 s, while `tickcast backfill` of the
 *      same files (the reference) runs.
 * A `run monitor` process consumes through the outages too (its start time is
 * reported: it no longer pins its groups topic by topic).
 * No process is restarted by the test. At the end the stored candles and
 * feature rows must equal the backfill's exactly, dlq.trades may hold only
 * trades the backfill also rejected, every trade source finishes, and every
 * service is ready again. Per outage it prints what it measured.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Candle, TechnicalFeatures } from '../../src/contracts/messages.ts';
import { isHeartbeat, isTradeBatch, tradesOf, Topics } from '../../src/contracts/messages.ts';
import { Bus, KafkaTransport } from '../../src/bus/index.ts';
import { openStores } from '../../src/stores/index.ts';
import type { Stores } from '../../src/stores/types.ts';
import { silentLogger } from '../sources/helpers.ts';
import { esUrl, deleteIndices } from '../stores/es-test-env.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { testData } from '../fixtures/test-data.ts';
import { cleanEnv } from '../fixtures/env.ts';
import { sleep, until } from '../fixtures/service-procs.ts';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/pipeline/broker-outage.test.ts';
const BIN = join(REPO_ROOT, 'bin/tickcast.js');
const BINANCE = {
  'BTC/USDT': testData('trades/binance_spot_BTCUSDT_trades_20240808T2354-20240809T0005.csv'),
  'ETH/USDT': testData('trades/binance_spot_ETHUSDT_trades_20240808T2354-20240809T0005.csv'),
};
const KRAKEN = { 'BTC/USD': testData('trades/kraken_XBTUSD_trades_20190701T0000-0100.csv') };
const PAIRS = ['BTC/USDT', 'ETH/USDT', 'BTC/USD'];

interface Proc {
  name: string;
  child: ChildProcess;
  /** Parsed JSON log lines (stdout). */
  logs: Record<string, unknown>[];
  text: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnTickcast(name: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let text = '';
  let partial = '';
  child.stdout?.on('data', (d: Buffer) => {
    const s = partial + d.toString();
    const lines = s.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      text += `${l}\n`;
      if (text.length > 400_000) text = text.slice(-200_000);
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // a plain line (the backfill's summary)
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { name, child, logs, text: () => text.slice(-4000), exited };
}

const opsUrl = (p: Proc): string | null => {
  const l = p.logs.find((x) => typeof x.msg === 'string' && x.msg.startsWith('ops endpoint listening'));
  return l ? String(l.url) : null;
};

async function ready(p: Proc): Promise<boolean> {
  const url = opsUrl(p);
  if (!url) return false;
  try {
    const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

/** Messages waiting in an ingest process's outbox (its /metrics). */
async function outboxSize(p: Proc): Promise<number> {
  const url = opsUrl(p);
  if (!url) return 0;
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    let n = 0;
    for (const m of text.matchAll(/^tickcast_ingest_outbox_messages\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
    return n;
  } catch {
    return 0;
  }
}

const key = (x: { pair: string; window_end_ms: number }) => `${x.pair}|${x.window_end_ms}`;

async function readAll(s: Stores): Promise<{ candles: Map<string, Candle>; features: Map<string, TechnicalFeatures> }> {
  const candles = new Map<string, Candle>();
  const features = new Map<string, TechnicalFeatures>();
  for (const pair of PAIRS) {
    for (const c of await s.features.candles.range({ pair, interval_s: 60 })) candles.set(key(c), c);
    for (const f of await s.features.technical.range({ pair, interval_s: 60 })) features.set(key(f), f);
  }
  return { candles, features };
}

interface Outage {
  label: string;
  second: number;
  downMs: number;
  withBackfill?: boolean;
}

const OUTAGES: Outage[] = [
  { label: 'A: 10 s into a minute, ~20 s down', second: 10, downMs: 20_000 },
  { label: 'B: 47 s into a minute, ~60 s down, during the reference backfill', second: 47, downMs: 60_000, withBackfill: true },
];

test('broker killed with SIGKILL at :10 and :47 of an event-time minute (~20 s and ~60 s, the second during a backfill): stored candles and features equal the backfill, nothing dead-lettered that the backfill accepted, no restart needed', { timeout: 900_000 }, async () => {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  const ctl = process.env.TICKCAST_TEST_KAFKA_CTL;
  if (!brokers || !ctl) throw new Error(`TICKCAST_TEST_KAFKA_BROKERS / TICKCAST_TEST_KAFKA_CTL are not set: ${HOW}`);
  const es = esUrl();
  const run = `t-outage-${Date.now()}-`;
  const livePrefix = `${run}live-`;
  const refPrefix = `${run}ref-`;
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'tickcast-outage-'));
    dirs.push(d);
    return d;
  };
  const base = {
    TICKCAST_MODE: 'production',
    TICKCAST_KAFKA_BROKERS: brokers,
    TICKCAST_KAFKA_TOPIC_PREFIX: run,
    TICKCAST_KAFKA_PARTITIONS: '3',
    TICKCAST_KAFKA_REPLICATION_FACTOR: '1',
    TICKCAST_KAFKA_SESSION_TIMEOUT_MS: '6000',
    TICKCAST_ES_URL: es,
    TICKCAST_ES_INDEX_PREFIX: livePrefix,
    TICKCAST_HTTP_HOST: '127.0.0.1',
    TICKCAST_HTTP_PORT: '0',
  };
  const procs: Proc[] = [];
  const service = (name: string, args: string[], env: Record<string, string> = {}) => {
    const p = spawnTickcast(name, ['run', ...args], { ...base, TICKCAST_DATA_DIR: tmp(), ...env });
    procs.push(p);
    return p;
  };

  // The observer: the event clock of the Binance replay as the stream carries it, and dlq.trades.
  const bus = new Bus(
    new KafkaTransport({ logger: silentLogger, brokers: brokers.split(','), clientId: 'tickcast-outage-test', partitions: 3, replicationFactor: 1, topicPrefix: run, sessionTimeoutMs: 6000 }),
    { logger: silentLogger },
  );
  const live = await openStores({ kind: 'elasticsearch', node: es, indexPrefix: livePrefix }, silentLogger);
  const ref = await openStores({ kind: 'elasticsearch', node: es, indexPrefix: refPrefix }, silentLogger);
  let binanceClockMs = 0;
  const published = new Set<string>();
  const dead: { reason: string; source: string; tradeId: string | null }[] = [];
  const report: Record<string, unknown>[] = [];
  try {
    await bus.start();
    const candles = service('candles', ['candles']);
    const features = service('features', ['features']);
    // The monitor too: it consumes candles, predictions and nine dead-letter topics through the outages.
    const monitor = service('monitor', ['monitor'], { TICKCAST_PAIRS: PAIRS.join(',') });
    await until(async () => (await ready(candles)) && (await ready(features)) && (await ready(monitor)), () => `candles, features and monitor ready (${candles.text()} ${features.text()} ${monitor.text()})`, 120_000);
    const logTime = (p: Proc, msg: string) => Date.parse(String(p.logs.find((l) => l.msg === msg)?.time));
    report.push({ monitor_start_ms: logTime(monitor, 'ready') - logTime(monitor, 'starting') });
    console.log(JSON.stringify(report.at(-1)));
    await bus.consume({
      group: 'observer',
      topics: ['trades'],
      fromBeginning: true,
      handler: (m) => {
        // The ingest sends a pair's trades that come together as one batch message: each trade counts.
        for (const e of isTradeBatch(m) ? tradesOf(m) : [m]) {
          if (e.exchange === 'binance' && e.pair === 'BTC/USDT' && e.ts_ms > binanceClockMs) binanceClockMs = e.ts_ms;
          if (!isHeartbeat(e)) published.add(Topics.trades.naturalKey(e));
        }
      },
    });
    await bus.consumeDeadLetters({
      group: 'observer-dlq',
      topics: ['trades'],
      fromBeginning: true,
      handler: (d) => {
        let tradeId: string | null = null;
        try {
          tradeId = String((JSON.parse(d.payload) as { trade_id?: unknown }).trade_id ?? '') || null;
        } catch {
          tradeId = null;
        }
        dead.push({ reason: d.reason, source: d.source, tradeId });
      },
    });

    const ingestBinance = service('ingest-binance', ['ingest'], {
      TICKCAST_INGEST_SOURCE: 'replay',
      TICKCAST_REPLAY_FILES: Object.values(BINANCE).join(','),
      TICKCAST_REPLAY_SPEED: '4',
      TICKCAST_PAIRS: 'BTC/USDT,ETH/USDT',
    });
    const ingestKraken = service('ingest-kraken', ['ingest'], {
      TICKCAST_INGEST_SOURCE: 'replay',
      TICKCAST_REPLAY_FILES: Object.values(KRAKEN).join(','),
      TICKCAST_REPLAY_SPEED: '24',
      TICKCAST_PAIRS: 'BTC/USD',
    });
    const ingests = [ingestBinance, ingestKraken];
    await until(() => binanceClockMs > 0, () => `the first trades on the stream (${ingestBinance.text()})`, 120_000);

    const backfills: Proc[] = [];
    const startBackfills = () => {
      const files: [string, string, string][] = [
        ...Object.entries(BINANCE).map(([pair, f]) => ['binance', pair, f] as [string, string, string]),
        ...Object.entries(KRAKEN).map(([pair, f]) => ['kraken', pair, f] as [string, string, string]),
      ];
      for (const [exchange, pair, file] of files) {
        const p = spawnTickcast(`backfill ${pair}`, ['backfill', '--exchange', exchange, '--pair', pair, '--file', file, '--fresh'], {
          ...base,
          TICKCAST_ES_INDEX_PREFIX: refPrefix,
          TICKCAST_DATA_DIR: tmp(),
        });
        backfills.push(p);
        procs.push(p);
      }
    };

    for (const o of OUTAGES) {
      // Kill when the stream's event clock is at the chosen second of a minute.
      await until(() => Math.floor((binanceClockMs % 60_000) / 1000) === o.second, () => `second ${o.second} of an event minute (at ${new Date(binanceClockMs).toISOString()})`, 120_000, 20);
      const killedAtEvent = binanceClockMs;
      if (o.withBackfill) startBackfills();
      const dlqBefore = dead.length;
      const latestBefore = await live.features.technical.latest({ pair: 'BTC/USDT', interval_s: 60 });
      execFileSync(ctl, ['kill9'], { stdio: 'ignore' });
      const killedAt = Date.now();
      const backfillRunning = o.withBackfill ? backfills.filter((b) => b.child.exitCode === null).length : null;
      // Readiness while the broker is away (polled, reported; ingest's is asserted below).
      const notReady = new Set<string>();
      const heldMax = new Map<string, number>();
      while (Date.now() - killedAt < o.downMs) {
        for (const p of [...ingests, candles, features, monitor]) if (!(await ready(p))) notReady.add(p.name);
        for (const p of ingests) heldMax.set(p.name, Math.max(heldMax.get(p.name) ?? 0, await outboxSize(p)));
        await sleep(500);
      }
      execFileSync(ctl, ['start'], { stdio: 'ignore' });
      const backAt = Date.now();
      // Recovery: the first feature row after the broker's return, newer than any stored before the kill.
      const before = latestBefore?.window_end_ms ?? 0;
      await until(async () => ((await live.features.technical.latest({ pair: 'BTC/USDT', interval_s: 60 }))?.window_end_ms ?? 0) > before, () => `a new feature row after the broker returned (${features.text()})`, 180_000, 100);
      const recoveryMs = Date.now() - backAt;
      await until(async () => (await Promise.all(procs.filter((p) => !p.name.startsWith('backfill')).map(ready))).every(Boolean), () => `every service ready again (${procs.map((p) => `${p.name}: ${p.text().slice(-600)}`).join('\n')})`, 120_000, 500);
      const readyAgainMs = Date.now() - backAt;
      report.push({
        outage: o.label,
        killed_at_event: new Date(killedAtEvent).toISOString(),
        down_ms: backAt - killedAt,
        backfills_running_at_kill: backfillRunning,
        not_ready_during_outage: [...notReady].sort(),
        ingest_outbox_max_messages: Object.fromEntries(heldMax),
        dead_letters_during: dead.length - dlqBefore,
        broker_return_to_first_feature_row_ms: recoveryMs,
        broker_return_to_all_ready_ms: readyAgainMs,
      });
      console.log(JSON.stringify(report.at(-1)));
      for (const p of ingests) assert.ok(notReady.has(p.name), `${p.name} reported not ready while the broker was away (${o.label})`);
      if (o.withBackfill) assert.ok((backfillRunning ?? 0) > 0, 'the broker was killed while the backfill ran');
    }

    // Every trade source finishes (everything it produced published), without a restart.
    for (const p of ingests) {
      await until(() => p.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('trade source finished')), () => `${p.name}: trade source finished (${p.text()})`, 300_000, 500);
    }
    const backfillDone = await Promise.all(backfills.map((b) => b.exited));
    backfillDone.forEach((r, i) => assert.equal(r.code, 0, `backfill ${i}: ${backfills[i]?.text()}`));
    const want = await readAll(ref);
    assert.ok(want.candles.size > 60 && want.features.size > 60, `the reference has candles and features (${want.candles.size}, ${want.features.size})`);
    // The stored rows settle (the last ones follow the final heartbeats), then must equal the reference.
    let got = await readAll(live);
    await until(
      async () => {
        got = await readAll(live);
        return got.candles.size >= want.candles.size && got.features.size >= want.features.size;
      },
      () => `${want.candles.size} candles and ${want.features.size} feature rows stored (have ${got.candles.size}, ${got.features.size})`,
      120_000,
      1000,
    );
    const diff = (a: Map<string, unknown>, b: Map<string, unknown>) => {
      const out: string[] = [];
      for (const [k, v] of b) if (!a.has(k)) out.push(`missing ${k}`);
      for (const [k, v] of a) {
        if (!b.has(k)) out.push(`extra ${k}`);
        else if (JSON.stringify(v) !== JSON.stringify(b.get(k))) out.push(`differs ${k}`);
      }
      return out;
    };
    const candleDiff = diff(got.candles, want.candles);
    const featureDiff = diff(got.features, want.features);

    // dlq.trades: only what the backfill also rejected (late trades by id; rejected input by count).
    const refLate = new Set<string>();
    let refRejected = 0;
    for (const b of backfills) {
      for (const l of b.logs) {
        if (typeof l.msg === 'string' && l.msg.startsWith('late trade in backfill')) refLate.add(String(l.trade_id));
        if (l.msg === 'source rejected input') refRejected++;
      }
    }
    const liveLate = dead.filter((d) => d.reason.startsWith('late'));
    const liveOther = dead.filter((d) => !d.reason.startsWith('late'));
    report.push({
      trades_published: published.size,
      reference: { candles: want.candles.size, feature_rows: want.features.size, late: refLate.size, rejected: refRejected },
      stored: { candles: got.candles.size, feature_rows: got.features.size },
      differences: { candles: candleDiff.length, feature_rows: featureDiff.length },
      dlq_trades: { late: liveLate.length, other: liveOther.length },
    });
    console.log(JSON.stringify(report, null, 1));
    assert.deepEqual(candleDiff, [], 'stored candles equal the backfill');
    assert.deepEqual(featureDiff, [], 'stored feature rows equal the backfill');
    for (const d of liveLate) assert.ok(d.tradeId !== null && refLate.has(d.tradeId), `dead-lettered trade ${d.tradeId} (${d.reason}) was late in the backfill too`);
    assert.ok(liveOther.length <= refRejected, `dlq.trades rejects (${liveOther.length}) are input the backfill rejected too (${refRejected}): ${JSON.stringify(liveOther.slice(0, 3))}`);
    // No service needed a manual restart: every one is still the process started, alive and ready.
    for (const p of procs.filter((x) => !x.name.startsWith('backfill'))) {
      assert.equal(p.child.exitCode, null, `${p.name} is still running`);
      assert.ok(await ready(p), `${p.name} is ready`);
    }
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await bus.close().catch(() => undefined);
    await live.close().catch(() => undefined);
    await ref.close().catch(() => undefined);
    await deleteIndices(es, run).catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
