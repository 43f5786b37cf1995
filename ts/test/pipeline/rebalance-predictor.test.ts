/**
 * The predictor and the monitor scaled out under rebalances (issue 19), as
 * processes on the real Kafka broker and Elasticsearch node: 8 pairs made of
 * the real Coinbase BTC-USD minute candles (each pair its own stretch of the
 * file, moved to the same recent minutes), topics of 6 partitions. A range
 * model and a price model, trained once on pair 0's earlier candles, are
 * promoted for every pair in the Elasticsearch registry; each pair's 260 minutes before the test are
 * in the feature store (the predictor's context and the monitor's baselines),
 * then its live minutes are stored and produced onto `candles` and
 * `features.technical` in chunks, as the candles and features services would.
 *
 * Two `tickcast run predictor` and two `tickcast run monitor` processes at a
 * time, added, killed with SIGKILL and stopped with SIGTERM right after a
 * chunk is produced (rows in flight; see CHUNKS), against a reference: one predictor and
 * one monitor process on their own topic and index prefix, fed the same rows,
 * never rebalanced after their start. A pair that leaves an instance and
 * comes back (added then killed member) is the case that needs the join-time
 * reset: without it the predictor serves stale range calibrations and the
 * monitor never resolves predictions whose partition was away meanwhile.
 *
 * Compared by natural key: the stored predictions (calibrated range intervals
 * and multipliers included), prediction errors and forecast errors. Numbers
 * equal to 1e-9 relative (a restored calibration keeps ln m, the store keeps
 * m: the last bits may differ; calibration-restart.test.ts), everything else
 * exactly; the count of bit-equal rows is reported too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Candle, Prediction, PredictionError, TechnicalFeatures } from '../../src/contracts/messages.ts';
import { Topics } from '../../src/contracts/messages.ts';
import { Kafka, logLevel } from 'kafkajs';
import { Bus, KafkaTransport } from '../../src/bus/index.ts';
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
import { sameStored, sleep, spawnTickcast, until, type Proc } from '../fixtures/service-procs.ts';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/pipeline/rebalance-predictor.test.ts';
const PARTITIONS = 6;
const NPAIRS = 8;
const TRAIN = 1500;
const HISTORY = 260;
/**
 * The live minutes in chunks (first minute, end), each produced then processed by both runs, and the membership
 * change of the scaled-out run right after it is produced (its rows in flight). Chunk 0 is processed by the first
 * instances alone, so they hold state for every pair; the instances added with chunk 1 are members for all of chunk 2.
 */
const CHUNKS: { from: number; to: number; action: 'none' | 'add' | 'SIGKILL' | 'SIGTERM' }[] = [
  { from: 0, to: 3, action: 'none' },
  { from: 3, to: 6, action: 'add' },
  { from: 6, to: 12, action: 'none' },
  { from: 12, to: 18, action: 'SIGKILL' },
  { from: 18, to: 24, action: 'add' },
  { from: 24, to: 30, action: 'SIGTERM' },
];
const MIN = 60_000;

/** The log lines the test reads: joins, subscriptions, calibration restores. */
const KEPT = (msg: string) => msg.includes('partitions assigned') || msg.includes(' consuming ') || msg.startsWith('range calibration');

const pairName = (i: number) => `Q${i}/USD`;

test(`predictor and monitor scaled out on ${PARTITIONS} partitions, ${NPAIRS} pairs, instances added, killed and stopped: stored predictions (calibrated ranges) and errors equal a single-instance run`, { timeout: 600_000 }, async () => {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  if (!brokers) throw new Error(`TICKCAST_TEST_KAFKA_BROKERS is not set: ${HOW}`);
  const es = esUrl();
  const tStart = Date.now();
  const phases: Record<string, number> = {};
  let tMark = tStart;
  const phase = (name: string) => {
    const t = Date.now();
    phases[name] = (t - tMark) / 1000;
    tMark = t;
  };

  // Real minute candles: the longest contiguous stretch of the Coinbase BTC-USD file; pair i takes it from minute 40 i.
  const segs = readCandleCsv(join(REPO_ROOT, 'data', 'sample', 'candles', 'coinbase_BTCUSD_1m_lean.csv'), { pair: pairName(0) }).segments;
  const seg = segs.reduce((a, b) => (b.length > a.length ? b : a));
  const LIVE = (CHUNKS.at(-1) as (typeof CHUNKS)[number]).to;
  const need = 40 * (NPAIRS - 1) + TRAIN + HISTORY + LIVE;
  assert.ok(seg.length >= need, `a stretch of ${need} minutes (have ${seg.length})`);
  // The live minutes end two minutes before now (the monitor looks back 7 days of wall time).
  const liveStart = Math.floor(Date.now() / MIN) * MIN - (LIVE + 2) * MIN;
  const data = Array.from({ length: NPAIRS }, (_, i) => {
    const pair = pairName(i);
    const part = seg.slice(40 * i, 40 * i + TRAIN + HISTORY + LIVE);
    const shift = liveStart - (part[TRAIN + HISTORY] as Candle).window_end_ms;
    const candles = part.map((c) => ({ ...c, pair, window_start_ms: c.window_start_ms + shift, window_end_ms: c.window_end_ms + shift }));
    const { names, rows } = technicalRowsFromCandles([candles]);
    assert.equal(rows.length, candles.length);
    return { pair, names, candles, rows };
  });

  phase('data');
  const runId = `t-rebpred-${Date.now()}`;
  const prefixes = { ref: `${runId}-ref-`, run: `${runId}-run-` };
  const dirs: string[] = [];
  const baseEnv = (prefix: string) => ({
    TICKCAST_MODE: 'production',
    TICKCAST_KAFKA_BROKERS: brokers,
    TICKCAST_KAFKA_TOPIC_PREFIX: prefix,
    TICKCAST_KAFKA_PARTITIONS: String(PARTITIONS),
    TICKCAST_KAFKA_REPLICATION_FACTOR: '1',
    TICKCAST_KAFKA_SESSION_TIMEOUT_MS: '6000',
    TICKCAST_ES_URL: es,
    TICKCAST_ES_INDEX_PREFIX: prefix,
    TICKCAST_HTTP_HOST: '127.0.0.1',
    TICKCAST_HTTP_PORT: '0',
    TICKCAST_PAIRS: data.map((d) => d.pair).join(','),
  });

  const procs: Proc[] = [];
  let serial = 0;
  const start = (which: 'ref' | 'run', what: 'predictor' | 'monitor'): Proc => {
    const d = mkdtempSync(join(tmpdir(), 'tickcast-rebpred-'));
    dirs.push(d);
    const p = spawnTickcast(`${which}-${what}-${++serial}`, ['run', what], { ...baseEnv(prefixes[which]), TICKCAST_DATA_DIR: d }, KEPT);
    procs.push(p);
    return p;
  };
  const live = (prefix: string) => procs.filter((p) => p.name.startsWith(prefix) && p.child.exitCode === null && p.child.signalCode === null);
  const events: string[] = [];
  const kill = async (p: Proc, signal: NodeJS.Signals) => {
    events.push(`${signal} ${p.name}`);
    p.child.kill(signal);
    const r = await p.exited;
    if (signal === 'SIGTERM') assert.equal(r.code, 0, `${p.name} stops cleanly: ${p.text()}`);
  };

  const buses = {
    ref: new Bus(new KafkaTransport({ logger: silentLogger, brokers: brokers.split(','), clientId: 'tickcast-rebpred-ref', partitions: PARTITIONS, replicationFactor: 1, topicPrefix: prefixes.ref, sessionTimeoutMs: 6000 }), { logger: silentLogger }),
    run: new Bus(new KafkaTransport({ logger: silentLogger, brokers: brokers.split(','), clientId: 'tickcast-rebpred-run', partitions: PARTITIONS, replicationFactor: 1, topicPrefix: prefixes.run, sessionTimeoutMs: 6000 }), { logger: silentLogger }),
  };
  const stores: Partial<Record<'ref' | 'run', Stores>> = {};
  const admin = new Kafka({ clientId: 'tickcast-rebpred-admin', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    for (const which of ['ref', 'run'] as const) {
      await buses[which].start();
      const s = await openStores({ kind: 'elasticsearch', node: es, indexPrefix: prefixes[which] }, silentLogger);
      stores[which] = s;
      // The history the services have behind them: the stored candles and feature rows before the live minutes.
      const hist = { candles: data.flatMap((d) => d.candles.slice(TRAIN, TRAIN + HISTORY)), rows: data.flatMap((d) => d.rows.slice(TRAIN, TRAIN + HISTORY)) };
      assert.equal((await s.features.candles.write(hist.candles)).rejected.length, 0);
      assert.equal((await s.features.technical.write(hist.rows)).rejected.length, 0);
    }
    phase('history_writes');
    // A range and a price model, each trained once on pair 0's earlier minutes (the proof needs models, not skill:
    // training one per pair took most of this test's time), saved and promoted for every pair in both registries.
    const registries = (['ref', 'run'] as const).map((w) => registryOf(loadConfig({ env: { ...baseEnv(prefixes[w]), TICKCAST_DATA_DIR: tmpdir() } })));
    try {
      const d0 = data[0] as (typeof data)[number];
      const trained = ['range', 'log_return'].map((target) =>
        trainTarget({ dataset: buildDataset({ pair: d0.pair, technical: d0.rows.slice(0, TRAIN), technicalNames: d0.names, horizonS: 300, target }), folds: 2, source: 'coinbase_BTCUSD_1m_lean.csv' }),
      );
      phase('training');
      // All at once: every write waits for an ES refresh (one by one, that was ~50 s).
      await Promise.all(
        registries.flatMap((reg) =>
          data.flatMap((d) =>
            trained.map(async (r) => {
              const meta = { ...r.meta, pair: d.pair, version: versionOf(d.pair, `${r.meta.target}-${r.meta.kind}`, r.meta.created_ms, r.meta.data.sha256) };
              await reg.save(meta, r.model.modelText());
              await reg.promote(meta.version, 'rebalance-predictor.test.ts');
            }),
          ),
        ),
      );
    } finally {
      for (const reg of registries) await reg.close();
    }

    phase('registry');
    start('ref', 'predictor');
    start('ref', 'monitor');
    start('run', 'predictor');
    start('run', 'monitor');
    // Every instance subscribed before the first rows (the predictor's group starts at the end of its topic as of its subscription).
    await until(() => procs.every((p) => p.logs.some((l) => typeof l.msg === 'string' && l.msg.includes(' consuming '))), () => `subscriptions: ${procs.map((p) => `${p.name}: ${p.text().slice(-500)}`).join('\n')}`, 90_000, 250);

    phase('spawn_subscribe');
    /** Members of the scaled-out run's group once it is stable (0 while it rebalances). */
    const groupSize = async (group: string): Promise<number> => {
      const { groups } = await admin.describeGroups([`${prefixes.run}${group}`]);
      const g = groups[0];
      return g && g.state === 'Stable' ? g.members.length : 0;
    };
    const caughtUp = async (which: 'ref' | 'run') => {
      const t = buses[which].transport as KafkaTransport;
      const p = await t.lag('predictor', [Topics.featuresTechnical.name]);
      const m = await t.lag('monitor', [Topics.candles.name, Topics.predictions.name]);
      return (p.get(Topics.featuresTechnical.name) ?? 1) === 0 && (m.get(Topics.candles.name) ?? 1) === 0 && (m.get(Topics.predictions.name) ?? 1) === 0;
    };

    for (const [k, chunk] of CHUNKS.entries()) {
      const from = TRAIN + HISTORY + chunk.from;
      const to = TRAIN + HISTORY + chunk.to;
      const candles = data.flatMap((d) => d.candles.slice(from, to)).sort((a, b) => a.window_end_ms - b.window_end_ms);
      const rows = data.flatMap((d) => d.rows.slice(from, to)).sort((a, b) => a.window_end_ms - b.window_end_ms);
      for (const which of ['ref', 'run'] as const) {
        // As the features service: stored, then published (a candle before its row).
        const s = stores[which] as Stores;
        assert.equal((await s.features.candles.write(candles)).rejected.length, 0);
        assert.equal((await s.features.technical.write(rows)).rejected.length, 0);
        await buses[which].publish('candles', candles);
        await buses[which].publish('featuresTechnical', rows);
      }
      phase(`chunk${k}_write`);
      // Membership changes of the scaled-out run, with this chunk's rows in flight.
      if (chunk.action === 'add') (start('run', 'predictor'), start('run', 'monitor'), events.push('add run-predictor, add run-monitor'));
      if (chunk.action === 'SIGKILL') {
        // The instances added before own some pairs since; their removal hands them back to the first ones, whose
        // state for them is stale (the case that needs the join-time reset).
        await kill(live('run-predictor').at(-1) as Proc, 'SIGKILL');
        await kill(live('run-monitor').at(-1) as Proc, 'SIGKILL');
      }
      if (chunk.action === 'SIGTERM') {
        await kill(live('run-predictor')[0] as Proc, 'SIGTERM');
        await kill(live('run-monitor')[0] as Proc, 'SIGTERM');
      }
      await until(async () => (await caughtUp('ref')) && (await caughtUp('run')), () => `chunk ${k} processed (${live('run-').map((p) => `${p.name}: ${p.text().slice(-600)}`).join('\n')})`, 120_000, 500);
      // After an add, the next chunk waits until both instances are members of each group (the broker's view, not the
      // services' logs), so the added ones surely own some pairs for all of it.
      if (chunk.action === 'add') {
        await until(async () => (await groupSize('predictor')) === 2 && (await groupSize('monitor')) === 2, () => `two members in each group after chunk ${k}`, 60_000, 250);
      }
      phase(`chunk${k}_catchup`);
    }

    // Everything stored (the monitor writes its rows before its offsets commit; ES shows them after its refresh).
    await sleep(1500);
    const readAll = async (s: Stores) => {
      const got = { predictions: new Map<string, Prediction>(), errors: new Map<string, PredictionError>(), forecastErrors: new Map<string, ForecastError>() };
      for (const d of data) {
        for (const p of await s.predictions.predictions.range({ pair: d.pair })) got.predictions.set(Topics.predictions.naturalKey(p), p);
        for (const e of await s.predictions.errors.range({ pair: d.pair })) got.errors.set(Topics.predictionErrors.naturalKey(e), e);
        for (const f of await s.predictions.forecastErrors.range({ pair: d.pair })) got.forecastErrors.set(`${f.pair}|${f.target}|${f.model_version}|${f.made_at_ms}`, f);
      }
      return got;
    };
    const want = await readAll(stores.ref as Stores);
    const got = await readAll(stores.run as Stores);
    const diff = (a: Map<string, unknown>, b: Map<string, unknown>) => {
      const out: string[] = [];
      let exact = 0;
      for (const k of b.keys()) if (!a.has(k)) out.push(`missing ${k}`);
      for (const [k, v] of a) {
        if (!b.has(k)) out.push(`extra ${k}`);
        else if (!sameStored(v, b.get(k))) out.push(`differs ${k}: ${JSON.stringify(v)} vs ${JSON.stringify(b.get(k))}`);
        else if (JSON.stringify(v) === JSON.stringify(b.get(k))) exact++;
      }
      return { out, exact };
    };
    phase('settle_read');
    const d = { predictions: diff(got.predictions, want.predictions), errors: diff(got.errors, want.errors), forecastErrors: diff(got.forecastErrors, want.forecastErrors) };
    const joins = (what: string) => procs.filter((p) => p.name.startsWith(`run-${what}`)).flatMap((p) => p.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('partitions assigned'))).length;
    const restored = procs.filter((p) => p.name.startsWith('run-predictor')).flatMap((p) => p.logs.filter((l) => l.msg === 'range calibration restored from the stored predictions')).length;
    // The pairs the SIGKILLed predictor took over from the first one (its first row of such a pair restores the pair's
    // calibration from the first one's stored predictions): state that moved, and moves back at the SIGKILL.
    const killedPredictor = procs.find((p) => events.includes(`SIGKILL ${p.name}`) && p.name.startsWith('run-predictor')) as Proc;
    const servedByKilled = new Set(killedPredictor.logs.filter((l) => l.msg === 'range calibration restored from the stored predictions').map((l) => l.pair)).size;
    const report = {
      pairs: NPAIRS,
      pairs_moved_to_the_killed_predictor: servedByKilled,
      live_rows: NPAIRS * LIVE,
      actions: events,
      predictor_group_joins: joins('predictor'),
      monitor_group_joins: joins('monitor'),
      calibrations_restored: restored,
      reference: { predictions: want.predictions.size, ranges_calibrated: [...want.predictions.values()].filter((p) => p.range?.calibrated).length, errors: want.errors.size, forecast_errors: want.forecastErrors.size },
      stored: { predictions: got.predictions.size, errors: got.errors.size, forecast_errors: got.forecastErrors.size },
      differences: { predictions: d.predictions.out.length, errors: d.errors.out.length, forecast_errors: d.forecastErrors.out.length },
      bit_equal: { predictions: d.predictions.exact, errors: d.errors.exact, forecast_errors: d.forecastErrors.exact },
      phases,
      wall_s: Math.round((Date.now() - tStart) / 1000),
    };
    console.log(JSON.stringify(report, null, 1));
    // The reference made what the comparison needs: calibrated ranges, price errors and range forecast errors of every pair.
    assert.ok(want.predictions.size >= NPAIRS * (LIVE - 1), `reference predictions: ${want.predictions.size}`);
    assert.ok(report.reference.ranges_calibrated >= NPAIRS * (LIVE - 10), `calibrated ranges: ${report.reference.ranges_calibrated}`);
    assert.ok(want.errors.size >= NPAIRS * (LIVE - 6), `reference price errors: ${want.errors.size}`);
    assert.ok([...want.forecastErrors.values()].filter((f) => f.target === 'range' && !f.baseline).length >= NPAIRS * (LIVE - 6), 'reference range forecast errors');
    assert.ok(servedByKilled > 0, 'the added predictor took over some pairs before its SIGKILL');
    assert.deepEqual(d.predictions.out.slice(0, 5), [], 'stored predictions equal the single-instance run');
    assert.deepEqual(d.errors.out.slice(0, 5), [], 'stored prediction errors equal the single-instance run');
    assert.deepEqual(d.forecastErrors.out.slice(0, 5), [], 'stored forecast errors equal the single-instance run');
    assert.ok([...want.forecastErrors.values()].filter((f) => f.baseline).length > 0, 'reference forecast baselines (the monitor loads the stored history)');
    assert.ok(report.predictor_group_joins >= 4 && report.monitor_group_joins >= 4, 'the scaled-out instances rejoined at the membership changes');
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await admin.disconnect().catch(() => undefined);
    for (const b of Object.values(buses)) await b.close().catch(() => undefined);
    for (const s of Object.values(stores)) await s?.close().catch(() => undefined);
    await deleteIndices(es, runId).catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
