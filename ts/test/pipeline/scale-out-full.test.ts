/**
 * The whole stream path scaled out under rebalances (issue 19.2), as
 * processes on the real Kafka broker and Elasticsearch node: up to 3
 * `tickcast run candles`, 3 `run features`, 2 `run predictor` and 2 `run
 * monitor` instances at once, added, stopped (SIGTERM) and killed (SIGKILL)
 * between and during chunks of the trade stream, the broker itself killed
 * with SIGKILL and started again once; topics of 6 partitions.
 *
 * Trades: the real Kraken BTC/USD hour and ETH/USD two hours (the bundled
 * sample), made into NPAIRS pairs (half from each; pair i shifted by i * 7 s
 * so its minutes cut the tape elsewhere, prices x (1 + i/100), sizes
 * x (1 + i/50)), both starting in the same minute and ending two minutes before
 * now (the monitor looks back over wall time), written to one trade file. A range and a price model,
 * trained once on the real Coinbase BTC/USD minute candles, are promoted for
 * every pair.
 *
 * The reference is a single-instance embedded run of the same file: `tickcast
 * run ingest candles features predictor monitor` with the replay source at
 * full speed, the in-memory bus and the SQLite stores. The stored candles,
 * feature rows, predictions (calibrated ranges included), prediction errors
 * and forecast errors of the scaled-out run must equal it by natural key and
 * value (candles and feature rows exactly; predictions and errors to 1e-9
 * relative, since a restored calibration keeps ln m and the store m), and
 * nothing may reach a dead-letter topic.
 *
 * TICKCAST_TEST_SCALEOUT_PAIRS sets the number of pairs (default 20).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Candle, Prediction, PredictionError, TechnicalFeatures, Trade, TradeEvent } from '../../src/contracts/messages.ts';
import { Topics, isHeartbeat } from '../../src/contracts/messages.ts';
import { Bus, KafkaTransport } from '../../src/bus/index.ts';
import { CandleStage } from '../../src/pipeline/candle-stage.ts';
import { readTradeCsv } from '../../src/sources/index.ts';
import { openStores } from '../../src/stores/index.ts';
import type { ForecastError, Stores } from '../../src/stores/types.ts';
import { loadConfig } from '../../src/config/config.ts';
import { registryOf } from '../../src/registry/index.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { trainTarget } from '../../src/training/target-trainer.ts';
import { versionOf } from '../../src/training/trainer.ts';
import { silentLogger } from '../sources/helpers.ts';
import { esUrl, deleteIndices } from '../stores/es-test-env.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { testData } from '../fixtures/test-data.ts';
import { chunkCuts, sameStored, sleep, spawnTickcast, splitAt, until, type Proc } from '../fixtures/service-procs.ts';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/pipeline/scale-out-full.test.ts';
const GRACE_MS = 5000;
const PARTITIONS = 6;
const NPAIRS = Number(process.env.TICKCAST_TEST_SCALEOUT_PAIRS ?? 20);
const CHUNKS = 8;
const MIN = 60_000;
const TRAIN = 1500;
const HISTORY = 260;

const pairName = (i: number) => `K${String(i).padStart(2, '0')}/USD`;
const ckey = (x: { pair: string; window_end_ms: number }) => `${x.pair}|${x.window_end_ms}`;
/** The log lines kept: group joins, subscriptions, restores, exits. */
const KEPT = (msg: string) => msg.includes('partitions assigned') || msg.startsWith('monitor recovered') || msg.startsWith('candles missing') || msg.includes(' consuming ') || msg.startsWith('range calibration') || msg.includes('stopp') || msg.includes('fatal') || msg.startsWith('context incomplete') || msg.startsWith('feature row delivered again');

interface Rows {
  candles: Map<string, Candle>;
  features: Map<string, TechnicalFeatures>;
  predictions: Map<string, Prediction>;
  errors: Map<string, PredictionError>;
  forecastErrors: Map<string, ForecastError>;
}

async function readAll(s: Stores, pairs: string[]): Promise<Rows> {
  const got: Rows = { candles: new Map(), features: new Map(), predictions: new Map(), errors: new Map(), forecastErrors: new Map() };
  for (const pair of pairs) {
    for (const c of await s.features.candles.range({ pair, interval_s: 60 })) got.candles.set(ckey(c), c);
    for (const f of await s.features.technical.range({ pair, interval_s: 60 })) got.features.set(ckey(f), f);
    for (const p of await s.predictions.predictions.range({ pair })) got.predictions.set(Topics.predictions.naturalKey(p), p);
    for (const e of await s.predictions.errors.range({ pair })) got.errors.set(Topics.predictionErrors.naturalKey(e), e);
    for (const f of await s.predictions.forecastErrors.range({ pair })) got.forecastErrors.set(`${f.pair}|${f.target}|${f.model_version}|${f.made_at_ms}`, f);
  }
  return got;
}

function diff(a: Map<string, unknown>, b: Map<string, unknown>, exact: boolean): { out: string[]; bitEqual: number } {
  const out: string[] = [];
  let bitEqual = 0;
  for (const k of b.keys()) if (!a.has(k)) out.push(`missing ${k}`);
  for (const [k, v] of a) {
    if (!b.has(k)) out.push(`extra ${k}`);
    else if (!sameStored(v, b.get(k), exact)) out.push(`differs ${k}: ${JSON.stringify(v)} vs ${JSON.stringify(b.get(k))}`);
    else if (JSON.stringify(v) === JSON.stringify(b.get(k))) bitEqual++;
  }
  return { out, bitEqual };
}

test(`the whole stream path scaled out (3 candles, 3 features, 2 predictor, 2 monitor instances; ${NPAIRS} pairs, 6 partitions), instances added, stopped and killed, the broker killed once: stored rows equal a single-instance embedded run`, { timeout: 900_000 }, async () => {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  const ctl = process.env.TICKCAST_TEST_KAFKA_CTL;
  if (!brokers || !ctl) throw new Error(`TICKCAST_TEST_KAFKA_BROKERS / TICKCAST_TEST_KAFKA_CTL are not set: ${HOW}`);
  const es = esUrl();
  const tStart = Date.now();
  const phases: Record<string, number> = {};
  let tMark = tStart;
  const phase = (name: string) => {
    const t = Date.now();
    phases[name] = (t - tMark) / 1000;
    tMark = t;
  };

  // Real trades made into NPAIRS pairs, all ending two minutes before now.
  const sources: Trade[][] = [];
  for (const f of ['trades/kraken_XBTUSD_trades_20190701T0000-0100.csv', 'trades/kraken_ETHUSD_trades_20220320T1018-1207.csv']) {
    const ts: Trade[] = [];
    for await (const b of readTradeCsv(testData(f), { exchange: 'kraken', ...(f.includes('ETHUSD') ? { pair: 'ETH/USD' } : {}) })) ts.push(...b.trades);
    assert.ok(ts.length >= 1000, `${f}: ${ts.length} trades`);
    sources.push(ts);
  }
  // Both files start at the same minute; the longer one ends two minutes before now.
  const lengthOf = (src: Trade[]) => Math.ceil((src.at(-1) as Trade).ts_ms / MIN) * MIN - Math.floor((src[0] as Trade).ts_ms / MIN) * MIN;
  const liveStart = Math.floor(Date.now() / MIN) * MIN - 2 * MIN - Math.max(...sources.map(lengthOf)) - NPAIRS * 7000;
  const made: Trade[] = [];
  for (let i = 0; i < NPAIRS; i++) {
    const src = sources[i % 2] as Trade[];
    const shift = liveStart - Math.floor((src[0] as Trade).ts_ms / MIN) * MIN + i * 7000;
    for (const t of src) made.push({ ...t, pair: pairName(i), ts_ms: t.ts_ms + shift, price: Number((t.price * (1 + i / 100)).toFixed(2)), qty: Number((t.qty * (1 + i / 50)).toFixed(8)) });
  }
  made.sort((a, b) => a.ts_ms - b.ts_ms); // one stream, as a live source sends it (order per pair kept: stable sort)
  // One file for both runs (ids as the file reader gives them: the same in both).
  const work = mkdtempSync(join(tmpdir(), 'tickcast-scaleout-'));
  const file = join(work, `kraken_trades_scaleout.csv`);
  writeFileSync(file, ['exchange,asset,currency,time,timestamp,side,price,amount', ...made.map((t) => `kraken,${t.pair.split('/')[0]},USD,${t.ts_ms},${new Date(t.ts_ms).toISOString()},${t.side === 'sell' ? 'sell' : 'buy'},${t.price},${t.qty}`)].join('\n') + '\n');
  const trades: Trade[] = [];
  for await (const b of readTradeCsv(file)) {
    assert.deepEqual(b.rejects, []);
    trades.push(...b.trades);
  }
  assert.equal(trades.length, made.length);
  const pairs = Array.from({ length: NPAIRS }, (_, i) => pairName(i));
  // Each pair's end of input, as the replay source sends it: a final heartbeat at its last trade's time.
  const lastOf = new Map<string, number>();
  for (const t of trades) lastOf.set(t.pair, t.ts_ms);
  const finals: TradeEvent[] = pairs.map((pair) => ({ kind: 'heartbeat', exchange: 'kraken', pair, ts_ms: lastOf.get(pair) as number, final: true }));

  // Chunks: ends 20 s into a minute of the stream.
  const t0 = (trades[0] as Trade).ts_ms;
  const cuts = chunkCuts(t0, (trades.at(-1) as Trade).ts_ms, CHUNKS);
  const chunks: TradeEvent[][] = splitAt(trades, cuts, finals);
  // The candles each chunk closes (the aggregator, in process), to know when a chunk has been through the candles stage.
  const dueAfter: string[][] = [];
  {
    const stage = new CandleStage({ graceMs: GRACE_MS });
    for (const chunk of chunks) {
      const out = stage.pushMany(chunk.filter((e): e is Trade => !('kind' in e)));
      const closed = [...out.candles];
      for (const f of chunk) if (isHeartbeat(f)) closed.push(...stage.advance(f.ts_ms, f.pair, f.exchange));
      dueAfter.push(closed.map(ckey));
    }
  }
  phase('data');

  const runId = `t-scaleout-${Date.now()}-`;
  const dirs: string[] = [work];
  const common = {
    TICKCAST_HTTP_HOST: '127.0.0.1',
    TICKCAST_HTTP_PORT: '0',
    TICKCAST_CANDLE_GRACE_MS: String(GRACE_MS),
    TICKCAST_PAIRS: pairs.join(','),
  };
  const prod = {
    ...common,
    TICKCAST_MODE: 'production',
    TICKCAST_KAFKA_BROKERS: brokers,
    TICKCAST_KAFKA_TOPIC_PREFIX: runId,
    TICKCAST_KAFKA_PARTITIONS: String(PARTITIONS),
    TICKCAST_KAFKA_REPLICATION_FACTOR: '1',
    TICKCAST_KAFKA_SESSION_TIMEOUT_MS: '6000',
    TICKCAST_ES_URL: es,
    TICKCAST_ES_INDEX_PREFIX: runId,
  };
  const refDir = mkdtempSync(join(tmpdir(), 'tickcast-scaleout-ref-'));
  dirs.push(refDir);
  const embedded = { ...common, TICKCAST_MODE: 'embedded', TICKCAST_DATA_DIR: refDir, TICKCAST_INGEST_SOURCE: 'replay', TICKCAST_REPLAY_FILES: file, TICKCAST_REPLAY_SPEED: 'max', TICKCAST_BOOK_SOURCE: 'off' };

  // Real minute candles (Coinbase BTC/USD): the models' training data, and each pair's history before its first trade.
  const segs = readCandleCsv(join(REPO_ROOT, 'data', 'sample', 'candles', 'coinbase_BTCUSD_1m_lean.csv'), { pair: pairName(0) }).segments;
  const seg = segs.reduce((a, b) => (b.length > a.length ? b : a));
  assert.ok(seg.length >= TRAIN + HISTORY + 2 * NPAIRS, `a stretch of ${TRAIN + HISTORY + 2 * NPAIRS} minutes (have ${seg.length})`);
  // History: HISTORY minutes per pair (pair i from minute TRAIN + 2 i), prices scaled to its first trade, ending where its first
  // window starts (the context the range model and the monitor's baselines need: 240 closes), stored in both runs' stores.
  const history = pairs.map((pair, i) => {
    const first = trades.find((t) => t.pair === pair) as Trade;
    const start = Math.floor(first.ts_ms / MIN) * MIN;
    const part = seg.slice(TRAIN + 2 * i, TRAIN + 2 * i + HISTORY);
    const k = first.price / (part.at(-1) as Candle).close;
    const px = (x: number) => Number((x * k).toFixed(2));
    const candles = part.map((c, j): Candle => ({ ...c, exchange: 'kraken', pair, open: px(c.open), high: px(c.high), low: px(c.low), close: px(c.close), vwap: px(c.vwap), window_start_ms: start - (HISTORY - j) * MIN, window_end_ms: start - (HISTORY - j - 1) * MIN }));
    return { candles, rows: technicalRowsFromCandles([candles]).rows };
  });
  const writeHistory = async (s: Stores) => {
    for (const h of history) {
      assert.equal((await s.features.candles.write(h.candles)).rejected.length, 0);
      assert.equal((await s.features.technical.write(h.rows)).rejected.length, 0);
    }
  };

  // A range and a price model trained once on real minute candles, promoted for every pair in both registries.
  {
    const { names, rows } = technicalRowsFromCandles([seg.slice(0, TRAIN)]);
    const trained = ['range', 'log_return'].map((target) =>
      trainTarget({ dataset: buildDataset({ pair: pairName(0), technical: rows, technicalNames: names, horizonS: 300, target }), folds: 2, source: 'coinbase_BTCUSD_1m_lean.csv' }),
    );
    phase('training');
    const registries = [registryOf(loadConfig({ env: { ...prod, TICKCAST_DATA_DIR: tmpdir() } })), registryOf(loadConfig({ env: embedded }))];
    try {
      const put = async (reg: (typeof registries)[number], pair: string, r: (typeof trained)[number]) => {
        const meta = { ...r.meta, pair, version: versionOf(pair, `${r.meta.target}-${r.meta.kind}`, r.meta.created_ms, r.meta.data.sha256) };
        await reg.save(meta, r.model.modelText());
        await reg.promote(meta.version, 'scale-out-full.test.ts');
      };
      // Elasticsearch: all at once (each write waits for a refresh); the folder registry: one by one (one aliases file).
      await Promise.all(pairs.flatMap((pair) => trained.map((r) => put(registries[0] as (typeof registries)[number], pair, r))));
      for (const pair of pairs) for (const r of trained) await put(registries[1] as (typeof registries)[number], pair, r);
    } finally {
      for (const reg of registries) await reg.close();
    }
    phase('registry');
  }

  const procs: Proc[] = [];
  let serial = 0;
  const start = (what: string, env: Record<string, string>, args = ['run', what]): Proc => {
    const d = mkdtempSync(join(tmpdir(), 'tickcast-scaleout-'));
    dirs.push(d);
    const p = spawnTickcast(`${what}-${++serial}`, args, { ...env, TICKCAST_DATA_DIR: env.TICKCAST_DATA_DIR ?? d }, KEPT);
    procs.push(p);
    return p;
  };
  const running = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;
  const live = (what: string) => procs.filter((p) => p.name.startsWith(`${what}-`) && running(p));
  const events: string[] = [];
  /** The most instances of each service alive at once. */
  const most: Record<string, number> = {};
  const act = async (what: string, f: () => Promise<unknown> | unknown) => {
    events.push(what);
    await f();
    for (const s of ['candles', 'features', 'predictor', 'monitor']) most[s] = Math.max(most[s] ?? 0, live(s).length);
  };
  const kill = async (p: Proc, signal: NodeJS.Signals) => {
    p.child.kill(signal);
    const r = await p.exited;
    if (signal === 'SIGTERM') assert.equal(r.code, 0, `${p.name} stops cleanly: ${p.text()}`);
  };

  const bus = new Bus(
    new KafkaTransport({ logger: silentLogger, brokers: brokers.split(','), clientId: 'tickcast-scaleout-test', partitions: PARTITIONS, replicationFactor: 1, topicPrefix: runId, sessionTimeoutMs: 6000 }),
    { logger: silentLogger },
  );
  const admin = new Kafka({ clientId: 'tickcast-scaleout-admin', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  const stores: Stores[] = [];
  let brokerDown = false;
  try {
    // 1. The reference: one embedded process, the whole file at full speed, until everything it will store is stored.
    const refStores = await openStores({ kind: 'sqlite', dataDir: refDir }, silentLogger);
    stores.push(refStores);
    await writeHistory(refStores);
    const ref = start('embedded', embedded, ['run', 'ingest', 'candles', 'features', 'predictor', 'monitor']);
    const wantCandles = new Set(dueAfter.flat());
    let want = await readAll(refStores, pairs);
    let stableSince = Date.now();
    let lastCount = -1;
    await until(
      async () => {
        want = await readAll(refStores, pairs);
        const n = want.predictions.size + want.errors.size + want.forecastErrors.size + want.features.size;
        if (n !== lastCount) (lastCount = n), (stableSince = Date.now());
        return [...wantCandles].every((k) => want.candles.has(k) && want.features.has(k)) && Date.now() - stableSince > 5000;
      },
      () => `the embedded run: ${want.candles.size}/${wantCandles.size} candles, ${want.features.size} feature rows, ${want.predictions.size} predictions (${ref.text().slice(-1500)})`,
      300_000,
      1000,
    );
    await kill(ref, 'SIGTERM');
    want = await readAll(refStores, pairs);
    phase('reference');

    // 2. The scaled-out run.
    const runStores = await openStores({ kind: 'elasticsearch', node: es, indexPrefix: runId }, silentLogger);
    stores.push(runStores);
    await writeHistory(runStores);
    await admin.connect();
    await bus.start();
    const seen = new Set<string>();
    const partitionOf = new Map<string, number>();
    const dead: { topic: string; reason: string }[] = [];
    await bus.consume({
      group: 'observer',
      topics: ['candles'],
      fromBeginning: true,
      handler: (c, m) => {
        seen.add(ckey(c));
        partitionOf.set(c.pair, m.partition);
      },
    });
    await bus.consumeDeadLetters({
      group: 'observer-dlq',
      topics: ['trades', 'candles', 'featuresTechnical', 'predictions'],
      fromBeginning: true,
      handler: (d, m) => void dead.push({ topic: m.topicName, reason: d.reason }),
    });
    for (const what of ['candles', 'features', 'predictor', 'monitor']) start(what, prod);
    // Every instance subscribed before the first trades (the predictor's group starts at the end of its topic as of its subscription).
    await until(() => procs.filter(running).every((p) => p.name.startsWith('embedded') || p.logs.some((l) => typeof l.msg === 'string' && l.msg.includes(' consuming '))), () => `subscriptions: ${procs.filter(running).map((p) => `${p.name}: ${p.text().slice(-500)}`).join('\n')}`, 90_000, 250);
    phase('spawn_subscribe');

    const transport = bus.transport as KafkaTransport;
    let lastLags: number[] = [];
    const lagZero = async () => {
      const l = [
        (await transport.lag('candles', [Topics.trades.name])).get(Topics.trades.name),
        (await transport.lag('features', [Topics.candles.name])).get(Topics.candles.name),
        (await transport.lag('predictor', [Topics.featuresTechnical.name])).get(Topics.featuresTechnical.name),
        ...(await transport.lag('monitor', [Topics.candles.name, Topics.predictions.name])).values(),
      ];
      lastLags = l.map((x) => x ?? -1);
      return l.length === 5 && l.every((x) => x === 0);
    };
    const groupSize = async (group: string): Promise<number> => {
      const { groups } = await admin.describeGroups([`${runId}${group}`]);
      const g = groups[0];
      return g && g.state === 'Stable' ? g.members.length : 0;
    };
    const report = (k: number) => `chunk ${k}: ${dueAfter.slice(0, k + 1).flat().filter((x) => !seen.has(x)).length} candles not seen, lags [candles, features, predictor, monitor candles, monitor predictions] ${JSON.stringify(lastLags)} (${procs.filter((p) => !p.name.startsWith('embedded')).map((p) => `${p.name} ${running(p) ? 'running' : `exit ${p.child.exitCode ?? p.child.signalCode}`}: ${p.text().slice(-400)}`).join('\n')})`;

    for (let k = 0; k < chunks.length; k++) {
      const chunk = chunks[k] as TradeEvent[];
      for (let i = 0; i < chunk.length; i += 500) await bus.publish('trades', chunk.slice(i, i + 500));
      // Membership changes with this chunk in flight.
      if (k === 1) await act('add predictor + monitor', () => (start('predictor', prod), start('monitor', prod)));
      if (k === 4) await act('SIGKILL a features instance, add one; SIGKILL the added predictor', async () => (await kill(live('features')[0] as Proc, 'SIGKILL'), start('features', prod), await kill(live('predictor').at(-1) as Proc, 'SIGKILL')));
      if (k === 5) {
        await act('broker SIGKILL, down 15 s, started again; SIGTERM a candles instance', async () => {
          brokerDown = true;
          execFileSync(ctl, ['kill9'], { stdio: 'ignore' });
          await sleep(15_000);
          execFileSync(ctl, ['start'], { stdio: 'ignore' });
          brokerDown = false;
          await kill(live('candles')[0] as Proc, 'SIGTERM');
        });
      }
      // Every candle closed by this chunk seen, and every stage caught up.
      const due = dueAfter.slice(0, k + 1).flat();
      await until(async () => due.every((x) => seen.has(x)) && (await lagZero()), () => report(k), 180_000, 500);
      // Membership changes between chunks.
      if (k === 0) await act('add candles + features', () => (start('candles', prod), start('features', prod)));
      if (k === 1) {
        await act('add candles + features', () => (start('candles', prod), start('features', prod)));
        await until(async () => (await groupSize('predictor')) === 2 && (await groupSize('monitor')) === 2, () => 'two members in the predictor and monitor groups', 60_000, 250);
      }
      if (k === 2) {
        // The candles instance owning a pair's partition, SIGKILLed 20 s into a minute after it committed its first trades; and the first monitor.
        // A pair whose minute at the cut has trades on both sides of it.
        const cut = cuts[k] as number;
        const open = Math.floor((cut - 1) / MIN) * MIN;
        const victim = pairs.find((pair) => trades.some((t) => t.pair === pair && t.ts_ms >= open && t.ts_ms < cut) && trades.some((t) => t.pair === pair && t.ts_ms >= cut && t.ts_ms < open + MIN));
        assert.ok(victim, `a pair with trades on both sides of ${new Date(cut).toISOString()}`);
        const p0 = partitionOf.get(victim);
        assert.ok(p0 !== undefined, `the partition of ${victim} seen (${partitionOf.size} pairs seen, ${seen.size} candles)`);
        const owner = live('candles').find((p) => {
          const a = p.logs.filter((l) => l.msg === 'candles partitions assigned: state restored from the changelog before consuming').at(-1);
          return (a?.assigned as number[] | undefined)?.includes(p0);
        });
        assert.ok(owner, `a live candles instance owns partition ${p0}`);
        await act(`SIGKILL ${owner.name} (owner of ${victim}, 20 s into its minute); SIGKILL the first monitor, add one`, async () => (await kill(owner, 'SIGKILL'), await kill(live('monitor')[0] as Proc, 'SIGKILL'), start('monitor', prod)));
      }
      if (k === 3) await act('SIGTERM a features instance, add a candles instance', async () => (await kill(live('features')[0] as Proc, 'SIGTERM'), start('candles', prod)));
      if (k === 4) await act('add a predictor', () => start('predictor', prod));
      if (k === 6) await act('SIGKILL a candles instance; SIGTERM a predictor and a monitor', async () => (await kill(live('candles')[0] as Proc, 'SIGKILL'), await kill(live('predictor')[0] as Proc, 'SIGTERM'), await kill(live('monitor')[0] as Proc, 'SIGTERM')));
      phase(`chunk${k}`);
    }

    // 3. Everything stored: read until the counts reach the reference's (Elasticsearch shows writes after its refresh).
    let got = await readAll(runStores, pairs);
    await until(
      async () => {
        await sleep(1500);
        got = await readAll(runStores, pairs);
        return (['candles', 'features', 'predictions', 'errors', 'forecastErrors'] as const).every((k) => got[k].size >= want[k].size);
      },
      () =>
        `stored rows: ${(['candles', 'features', 'predictions', 'errors', 'forecastErrors'] as const).map((k) => `${k} ${got[k].size}/${want[k].size}`).join(', ')}; missing: ${(['candles', 'features', 'predictions', 'errors', 'forecastErrors'] as const)
          .flatMap((k) => [...want[k].keys()].filter((x) => !got[k].has(x)).slice(0, 12).map((x) => `${k} ${x}`))
          .join('; ')}; monitors: ${procs
          .filter((p) => p.name.startsWith('monitor-'))
          .map((p) => `${p.name}: ${p.logs.filter((l) => typeof l.msg === 'string' && (l.msg.startsWith('monitor') || l.msg.startsWith('candles missing'))).map((l) => `${String(l.time)} ${String(l.msg)} ${JSON.stringify(l.forecasts ?? l.assigned ?? l.pairs ?? '')}`).join(' | ')}`)
          .join('\n')}`,
      60_000,
      0,
    );
    phase('settle_read');
    const d = {
      candles: diff(got.candles, want.candles, true),
      features: diff(got.features, want.features, true),
      predictions: diff(got.predictions, want.predictions, false),
      errors: diff(got.errors, want.errors, false),
      forecastErrors: diff(got.forecastErrors, want.forecastErrors, false),
    };
    const scaled = procs.filter((p) => !p.name.startsWith('embedded'));
    const joins = (what: string) => scaled.filter((p) => p.name.startsWith(`${what}-`)).flatMap((p) => p.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('partitions assigned'))).length;
    const summary = {
      pairs: NPAIRS,
      trades: trades.length,
      actions: events,
      most_instances_at_once: most,
      group_joins: { candles: joins('candles'), features: joins('features'), predictor: joins('predictor'), monitor: joins('monitor') },
      reference: Object.fromEntries(Object.entries(want).map(([k, v]) => [k, (v as Map<string, unknown>).size])),
      calibrated_ranges: [...want.predictions.values()].filter((p) => p.range?.calibrated).length,
      stored: Object.fromEntries(Object.entries(got).map(([k, v]) => [k, (v as Map<string, unknown>).size])),
      differences: Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.out.length])),
      bit_equal: Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.bitEqual])),
      dead_letters: dead.length,
      context_incomplete: scaled.flatMap((p) => p.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('context incomplete')).map((l) => ({ proc: p.name, pair: l.pair, made_at: l.made_at, missing: l.missing }))).slice(0, 10),
      monitor_recoveries: scaled.flatMap((p) => p.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('monitor recovered')).map((l) => `${p.name} ${String(l.time)} resolved now ${String(l.resolved_now)}, unresolved ${String(l.unresolved)}, forecasts ${JSON.stringify(l.forecasts)}`)),
      monitor_holes: scaled.flatMap((p) => p.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('candles missing')).map((l) => `${p.name} ${String(l.time)} ${String(l.pair)} ${String(l.from)}..${String(l.to)} forecast holes ${String(l.forecast_holes)} skipped prices ${String(l.skipped_prices)} read ${String(l.read)} filled ${String(l.filled ?? l.holes)}`)),
      rows_again: scaled.flatMap((p) => p.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('feature row delivered again')).map((l) => `${p.name} ${l.time} ${l.pair} ${l.made_at} (newest ${l.newest})`)),
      phases,
      wall_s: Math.round((Date.now() - tStart) / 1000),
    };
    console.log(JSON.stringify(summary, null, 1));
    // The reference made what the comparison needs.
    assert.ok(want.candles.size >= NPAIRS * 40, `reference candles: ${want.candles.size}`);
    assert.ok(want.predictions.size >= NPAIRS * 20, `reference predictions: ${want.predictions.size}`);
    assert.ok(summary.calibrated_ranges >= NPAIRS * 10, `calibrated ranges: ${summary.calibrated_ranges}`);
    assert.ok(want.errors.size >= NPAIRS * 15, `reference prediction errors: ${want.errors.size}`);
    assert.ok(want.forecastErrors.size >= NPAIRS * 15, `reference forecast errors: ${want.forecastErrors.size}`);
    for (const [k, v] of Object.entries(d)) assert.deepEqual(v.out.slice(0, 5), [], `stored ${k} equal the single-instance embedded run`);
    assert.deepEqual(dead, [], 'nothing dead-lettered');
    assert.ok(events.length >= 7, 'membership changes');
    assert.deepEqual(most, { candles: 3, features: 3, predictor: 2, monitor: 2 }, 'instances at once');
    assert.ok(summary.group_joins.candles >= 5 && summary.group_joins.features >= 5 && summary.group_joins.predictor >= 4 && summary.group_joins.monitor >= 4, 'the instances rejoined at the membership changes');
  } finally {
    for (const p of procs) if (running(p)) p.child.kill('SIGKILL');
    if (brokerDown) execFileSync(ctl, ['start'], { stdio: 'ignore' });
    await admin.disconnect().catch(() => undefined);
    await bus.close().catch(() => undefined);
    for (const s of stores) await s.close().catch(() => undefined);
    await deleteIndices(es, runId).catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
