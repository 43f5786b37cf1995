/**
 * Benchmark (issue 19.4 and 19.3): the candles + features stage scaled out as
 * processes (`tickcast run candles`, `tickcast run features`) on the real Kafka
 * broker and Elasticsearch, topics of 6 partitions.
 *
 * Data: real Kraken XBT/USD trades (2019-07-01, one hour) made into many pairs
 * as the rebalance test makes them (pair i shifted by i * 7 s, prices x (1 +
 * i/100), sizes x (1 + i/50)), then a final heartbeat per pair so every window
 * closes. The reference is the same events through the candle stage and the
 * feature stage in this process: the feature rows the processes publish (after
 * storing them in Elasticsearch) must equal it, or the run is reported as wrong.
 *
 * --pace max (default): for 1, 2 and 3 instances of each service, the instances
 *   are started and left to settle into one group generation (every partition
 *   owned once), stopped (SIGSTOP), every trade is published (the backlog, so
 *   the publisher does not compete for the cores during the measurement), the
 *   instances continued (SIGCONT), and the stage's throughput is trades /
 *   (SIGCONT -> last expected feature row seen on featuresTechnical). Per run: CPU seconds of the instances and of
 *   this process, and the machine's busy share of its cores (other programs on
 *   the machine count too: read it with the load average printed).
 * --pace live: one instance of each; the trades are moved to the present and
 *   published at their own times (a live-like pace: the hour's trades per pair,
 *   about 0.7 a second; pair i starts at i/pairs of the hour, wrapping), with a heartbeat per pair every second as the Kraken
 *   source sends them; runs --minutes (default 3). Reports memory (RSS) per pair,
 *   CPU, and per closed window the latency from the event that closes it being
 *   published to its feature row seen on featuresTechnical (stored in
 *   Elasticsearch first), p50 / p99.
 *
 *   node --import tsx bench/scale.ts [--pace max|live] [--pairs N] [--instances 1,2,3] [--minutes M]
 * under scripts/services/with-services.sh (`make bench` runs the default).
 * Env: BENCH_SCALE_PAIRS, BENCH_SCALE_INSTANCES, BENCH_SCALE_PACE, BENCH_SCALE_MINUTES.
 */
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { isHeartbeat, type Candle, type TechnicalFeatures, type Trade, type TradeEvent, type TradeHeartbeat } from '../ts/src/contracts/messages.ts';
import { Bus, KafkaTransport } from '../ts/src/bus/index.ts';
import { CandleStage } from '../ts/src/pipeline/candle-stage.ts';
import { FeatureStage } from '../ts/src/pipeline/feature-stage.ts';
import { readTradeCsv } from '../ts/src/sources/index.ts';
import { openStores } from '../ts/src/stores/index.ts';
import { testData } from '../ts/test/fixtures/test-data.ts';
import { deleteIndices } from '../ts/test/stores/es-test-env.ts';
import { cpuSeconds, machineJiffies, sleep, spawnTickcast, until, type Proc } from './_procs.ts';

const log = pino({ level: 'silent' });
const GRACE_MS = 5000;
const PARTITIONS = 6;
const MIN = 60_000;

const pairName = (i: number) => `S${String(i).padStart(3, '0')}/USD`;
const key = (x: { pair: string; window_end_ms: number }) => `${x.pair}|${x.window_end_ms}`;
const load = () => loadavg().map((x) => x.toFixed(2)).join(', ');
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) : NaN;
};

async function realTrades(): Promise<Trade[]> {
  const out: Trade[] = [];
  for await (const b of readTradeCsv(testData('trades/kraken_XBTUSD_trades_20190701T0000-0100.csv'), { exchange: 'kraken' })) out.push(...b.trades);
  return out;
}

/** The source trades made into `n` pairs, one stream in time order (order per pair kept). */
function manyPairs(source: Trade[], n: number, shiftMs = 0): Trade[] {
  const out: Trade[] = [];
  for (let i = 0; i < n; i++) {
    for (const t of source) {
      out.push({ ...t, pair: pairName(i), ts_ms: t.ts_ms + i * 7000 + shiftMs, price: Number((t.price * (1 + i / 100)).toFixed(2)), qty: Number((t.qty * (1 + i / 50)).toFixed(8)) });
    }
  }
  return out.sort((a, b) => a.ts_ms - b.ts_ms);
}

/** The single-instance reference: feature rows by key. */
function reference(events: TradeEvent[]): Map<string, TechnicalFeatures> {
  const stage = new CandleStage({ graceMs: GRACE_MS });
  const feat = new FeatureStage(60);
  const rows = new Map<string, TechnicalFeatures>();
  const closed: Candle[] = [];
  const trades = events.filter((e): e is Trade => !('kind' in e));
  const out = stage.pushMany(trades);
  if (out.late.length + out.rejected.length > 0) throw new Error('the reference has late or rejected trades');
  closed.push(...out.candles);
  for (const e of events) if (isHeartbeat(e)) closed.push(...stage.advance(e.ts_ms, e.pair, e.exchange));
  for (const c of closed) {
    const r = feat.onCandle(c);
    if (r.kind === 'row') rows.set(key(r.row), r.row);
  }
  return rows;
}

interface Deployment {
  bus: Bus;
  procs: Proc[];
  rows: Map<string, { row: TechnicalFeatures; at: number }>;
  /** When each candle was seen on the candles topic. */
  candles: Map<string, number>;
  close: () => Promise<void>;
}

/** n candles + n features processes on fresh topics and indices, settled into one group generation each. */
async function deploy(n: number, brokers: string, es: string, label: string): Promise<Deployment> {
  const prefix = `bench-scale-${Date.now()}-${label}-`;
  const dirs: string[] = [];
  const env = {
    TICKCAST_MODE: 'production',
    TICKCAST_KAFKA_BROKERS: brokers,
    TICKCAST_KAFKA_TOPIC_PREFIX: prefix,
    TICKCAST_KAFKA_PARTITIONS: String(PARTITIONS),
    TICKCAST_KAFKA_REPLICATION_FACTOR: '1',
    TICKCAST_ES_URL: es,
    TICKCAST_ES_INDEX_PREFIX: prefix,
    TICKCAST_HTTP_HOST: '127.0.0.1',
    TICKCAST_HTTP_PORT: '0',
    TICKCAST_CANDLE_GRACE_MS: String(GRACE_MS),
  };
  const bus = new Bus(
    new KafkaTransport({ logger: log, brokers: brokers.split(','), clientId: 'tickcast-bench-scale', partitions: PARTITIONS, replicationFactor: 1, topicPrefix: prefix }),
    { logger: log },
  );
  const rows = new Map<string, { row: TechnicalFeatures; at: number }>();
  const candles = new Map<string, number>();
  const procs: Proc[] = [];
  const close = async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(20_000)]);
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await bus.close().catch(() => undefined);
    await deleteIndices(es, prefix).catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    await bus.start();
    // The indices exist before the instances start, as in a running deployment (creating them on the first write took ~1.4 s here).
    await (await openStores({ kind: 'elasticsearch', node: es, indexPrefix: prefix }, log)).close();
    await bus.consume({ group: 'observer', topics: ['featuresTechnical'], fromBeginning: true, handler: (r) => void rows.set(key(r), { row: r, at: performance.now() }) });
    await bus.consume({ group: 'observer-candles', topics: ['candles'], fromBeginning: true, handler: (c) => void candles.set(key(c), performance.now()) });
    for (let i = 1; i <= n; i++) {
      for (const what of ['candles', 'features'] as const) {
        const d = mkdtempSync(join(tmpdir(), 'tickcast-scale-'));
        dirs.push(d);
        procs.push(spawnTickcast(`${what}-${i}`, ['run', what], { ...env, TICKCAST_DATA_DIR: d }));
      }
    }
    // Settled: every instance's last assignment non-empty, together each partition exactly once, for both services.
    const settled = () =>
      (['candles', 'features'] as const).every((what) => {
        const last = procs
          .filter((p) => p.name.startsWith(what))
          .map((p) => p.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(`${what} partitions assigned`)).at(-1)?.assigned as number[] | undefined);
        if (last.some((a) => !a || a.length === 0)) return false;
        const all = last.flatMap((a) => a as number[]);
        return all.length === PARTITIONS && new Set(all).size === PARTITIONS;
      });
    const dead = () => procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    await until(() => settled() || dead(), () => `${n} + ${n} instances settled: ${procs.map((p) => `${p.name}: ${p.text().slice(-400)}`).join('\n')}`, 120_000, 250);
    if (dead()) throw new Error(`${dead()!.name} exited: ${dead()!.text()}`);
    await sleep(2000);
    if (!settled()) await until(settled, () => 'the groups to settle again', 60_000, 250);
    return { bus, procs, rows, candles, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Partition assignments logged so far by the instances (a rebalance during a run shows here). */
const joinsOf = (p: Proc) => p.logs.filter((l) => typeof l.msg === 'string' && / partitions assigned/.test(l.msg)).length;
const joins = (procs: Proc[]) => procs.reduce((n, p) => n + joinsOf(p), 0);

function rowDiff(got: Map<string, { row: TechnicalFeatures }>, want: Map<string, TechnicalFeatures>): number {
  let d = 0;
  for (const [k, v] of want) if (JSON.stringify(got.get(k)?.row) !== JSON.stringify(v)) d++;
  for (const k of got.keys()) if (!want.has(k)) d++;
  return d;
}

async function throughput(brokers: string, es: string, npairs: number, counts: number[]): Promise<void> {
  const source = await realTrades();
  const trades = manyPairs(source, npairs);
  const finalMs = Math.ceil(((trades.at(-1) as Trade).ts_ms + GRACE_MS) / MIN) * MIN + MIN;
  const events: TradeEvent[] = [...trades, ...Array.from({ length: npairs }, (_, i): TradeEvent => ({ kind: 'heartbeat', exchange: 'kraken', pair: pairName(i), ts_ms: finalMs, final: true }))];
  const want = reference(events);
  const ncores = cpus().length;
  console.log(
    `scale: candles + features processes on Kafka (${PARTITIONS} partitions) + Elasticsearch; ${trades.length} real Kraken XBT/USD trades as ${npairs} pairs -> ${want.size} feature rows; ${ncores} cores; load average at start ${load()}`,
  );
  const results: { n: number; rate: number }[] = [];
  for (const n of counts) {
    const dep = await deploy(n, brokers, es, `n${n}`);
    try {
      // The backlog first, with the instances stopped (SIGSTOP; well within the 30 s session timeout), so the
      // publisher does not share the cores with the stage while it is measured; then SIGCONT, and the clock runs.
      const p0 = performance.now();
      for (const p of dep.procs) p.child.kill('SIGSTOP');
      try {
        for (let i = 0; i < events.length; i += 5000) await dep.bus.publish('trades', events.slice(i, i + 5000));
      } finally {
        for (const p of dep.procs) p.child.kill('SIGCONT');
      }
      const tPub = performance.now();
      const cpu0 = dep.procs.map((p) => cpuSeconds(p.child.pid) ?? 0);
      const joins0 = joins(dep.procs);
      const joinsAt0 = dep.procs.map(joinsOf);
      const self0 = process.cpuUsage();
      const m0 = machineJiffies();
      const t0 = performance.now();
      await until(() => want.size <= dep.rows.size && [...want.keys()].every((k) => dep.rows.has(k)), () => `${want.size} feature rows (have ${dep.rows.size})`, 15 * 60_000, 100);
      const tEnd = Math.max(...[...want.keys()].map((k) => (dep.rows.get(k) as { at: number }).at));
      const tCandles = Math.max(...[...want.keys()].map((k) => dep.candles.get(k) ?? NaN));
      const rejoined = joins(dep.procs) - joins0;
      const who = dep.procs.filter((p, i) => joinsOf(p) > (joinsAt0[i] as number)).map((p) => p.name);
      const m1 = machineJiffies();
      const cpu = dep.procs.map((p, i) => (cpuSeconds(p.child.pid) ?? 0) - (cpu0[i] as number));
      const self = process.cpuUsage(self0);
      const secs = (tEnd - t0) / 1000;
      const sum = (what: string) => dep.procs.reduce((s, p, i) => s + (p.name.startsWith(what) ? (cpu[i] as number) : 0), 0);
      const diff = rowDiff(dep.rows, want);
      results.push({ n, rate: trades.length / secs });
      console.log(
        `  ${n} candles + ${n} features: ${(trades.length / secs / 1000).toFixed(1)}k trades/s (${secs.toFixed(1)} s from SIGCONT to the last feature row; the backlog was published in ${((tPub - p0) / 1000).toFixed(1)} s before; the last candle seen at ${((tCandles - t0) / 1000).toFixed(1)} s; ${rejoined} group assignments during the run${who.length ? `: ${who.join(', ')}` : ''}); ` +
          `CPU s: candles ${sum('candles').toFixed(1)}, features ${sum('features').toFixed(1)}, this process (observer) ${((self.user + self.system) / 1e6).toFixed(1)}; ` +
          `machine busy ${(((m1.busy - m0.busy) / (m1.total - m0.total)) * ncores).toFixed(2)} of ${ncores} cores; rows ${diff === 0 ? 'equal the reference' : `DIFFER from the reference: ${diff}`}; load ${load()}`,
      );
    } finally {
      await dep.close();
    }
  }
  const one = results.find((r) => r.n === 1);
  if (one) console.log(`  speed-up over 1 instance: ${results.map((r) => `${r.n}: ${(r.rate / one.rate).toFixed(2)}x`).join(', ')}`);
}

function rssMb(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function live(brokers: string, es: string, npairs: number, minutes: number): Promise<void> {
  const source = await realTrades();
  const dep = await deploy(1, brokers, es, 'live');
  const start = Date.now() + 1000;
  const firstMs = (source[0] as Trade).ts_ms;
  const endMs = start + minutes * MIN;
  // Each pair starts at its own point of the hour (pair i at i/npairs of it, wrapping around), so every pair trades from the start.
  const span = (source.at(-1) as Trade).ts_ms - firstMs + 1;
  const trades: Trade[] = [];
  for (let i = 0; i < npairs; i++) {
    const off = Math.floor((i * span) / npairs);
    for (const t of source) {
      const ts = start + ((t.ts_ms - firstMs - off + span) % span);
      if (ts < endMs) trades.push({ ...t, pair: pairName(i), ts_ms: ts, price: Number((t.price * (1 + i / 1000)).toFixed(2)), qty: Number((t.qty * (1 + i / 500)).toFixed(8)) });
    }
  }
  trades.sort((a, b) => a.ts_ms - b.ts_ms);
  console.log(
    `scale (live pace): 1 candles + 1 features process, ${npairs} pairs, ${minutes} min of real Kraken XBT/USD trades at their own pace (${trades.length} trades, ${(trades.length / (minutes * 60)).toFixed(0)}/s) + a heartbeat per pair each second; load average at start ${load()}`,
  );
  try {
    const idle = dep.procs.map((p) => rssMb(p.child.pid));
    while (Date.now() < start) await sleep(100);
    const cpu0 = dep.procs.map((p) => cpuSeconds(p.child.pid) ?? 0);
    const t0 = Date.now();
    // Per pair, (event time, published at) of every event, to find what closed each window.
    const published = new Map<string, { ts: number; at: number }[]>();
    const note = (pair: string, ts: number, at: number) => {
      const l = published.get(pair) ?? [];
      l.push({ ts, at });
      published.set(pair, l);
    };
    let i = 0;
    let nextBeat = start + 1000;
    const peakRss = dep.procs.map(() => 0);
    while (Date.now() < endMs + GRACE_MS + 2000) {
      const now = Date.now();
      const due: (Trade | TradeHeartbeat)[] = [];
      while (i < trades.length && (trades[i] as Trade).ts_ms <= now) due.push(trades[i++] as Trade);
      if (now >= nextBeat) {
        for (let p = 0; p < npairs; p++) due.push({ kind: 'heartbeat', exchange: 'kraken', pair: pairName(p), ts_ms: nextBeat, final: false });
        nextBeat += 1000;
        dep.procs.forEach((p, k) => (peakRss[k] = Math.max(peakRss[k] as number, rssMb(p.child.pid))));
      }
      if (due.length) {
        const at = performance.now();
        await dep.bus.publish('trades', due);
        for (const e of due) note(e.pair, e.ts_ms, at);
      }
      await sleep(20);
    }
    // Rows of the windows that closed in the run, then a little time for the last ones.
    await sleep(5000);
    const secs = (Date.now() - t0) / 1000;
    const cpu = dep.procs.map((p, k) => ((cpuSeconds(p.child.pid) ?? 0) - (cpu0[k] as number)) / secs);
    const lat: number[] = [];
    const candleLat: number[] = [];
    const byWindow = new Map<number, number[]>();
    let missing = 0;
    for (const [pair, evs] of published) {
      // Windows of this pair that closed: window end + grace reached by a published event.
      const lastTs = (evs.at(-1) as { ts: number }).ts;
      for (let w = Math.ceil(start / MIN) * MIN; w + GRACE_MS <= lastTs; w += MIN) {
        const closer = evs.find((e) => e.ts >= w + GRACE_MS) as { at: number };
        const got = dep.rows.get(`${pair}|${w}`);
        if (!got) {
          if (trades.some((t) => t.pair === pair && t.ts_ms >= w - MIN && t.ts_ms < w)) missing++;
          continue;
        }
        lat.push(got.at - closer.at);
        const l = byWindow.get(w) ?? [];
        l.push(got.at - closer.at);
        byWindow.set(w, l);
        const c = dep.candles.get(`${pair}|${w}`);
        if (c !== undefined) candleLat.push(c - closer.at);
      }
    }
    console.log(`  of which the candle seen on the candles topic: p50 ${pct(candleLat, 50).toFixed(0)} ms, p99 ${pct(candleLat, 99).toFixed(0)} ms over ${candleLat.length} windows`);
    console.log(
      `  per window (end, event time): ${[...byWindow]
        .sort((a, b) => a[0] - b[0])
        .map(([w, l]) => `${new Date(w).toISOString().slice(11, 16)} n=${l.length} p50 ${pct(l, 50).toFixed(0)} max ${Math.max(...l).toFixed(0)} ms`)
        .join('; ')}`,
    );
    const names = dep.procs.map((p) => p.name);
    const firstTwo = [...byWindow.keys()].sort((a, b) => a - b).slice(0, 2);
    const steady = [...byWindow].filter(([w]) => !firstTwo.includes(w)).flatMap(([, l]) => l);
    console.log(
      `  after the first two windows (the instance's first candles: stores opened, every pair warmed from the store): p50 ${pct(steady, 50).toFixed(0)} ms, p99 ${pct(steady, 99).toFixed(0)} ms, max ${Math.max(...steady).toFixed(0)} ms over ${steady.length} windows`,
    );
    console.log(
      `  ${npairs} pairs at live pace, ${secs.toFixed(0)} s: window close (the event that closes it published) -> feature row stored and seen: p50 ${pct(lat, 50).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms over ${lat.length} windows (${missing} windows with trades had no row); goal p99 < 1000 ms`,
    );
    console.log(
      `  memory: ${names.map((n, k) => `${n} RSS ${(idle[k] as number).toFixed(0)} MB idle -> peak ${(peakRss[k] as number).toFixed(0)} MB (${(((peakRss[k] as number) - (idle[k] as number)) * 1024 / npairs).toFixed(0)} kB per pair)`).join('; ')}`,
    );
    console.log(`  CPU: ${names.map((n, k) => `${n} ${((cpu[k] as number) * 100).toFixed(1)}% of a core`).join(', ')}; load ${load()}`);
  } finally {
    await dep.close();
  }
}

export async function run(argv: string[] = []): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      pace: { type: 'string', default: process.env.BENCH_SCALE_PACE ?? 'max' },
      pairs: { type: 'string' },
      instances: { type: 'string', default: process.env.BENCH_SCALE_INSTANCES ?? '1,2,3' },
      minutes: { type: 'string', default: process.env.BENCH_SCALE_MINUTES ?? '3' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node --import tsx bench/scale.ts [--pace max|live] [--pairs N] [--instances 1,2,3] [--minutes M]  (under scripts/services/with-services.sh)');
    return;
  }
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  const es = process.env.TICKCAST_TEST_ES_URL;
  if (!brokers || !es) {
    console.log('scale: not measured (needs TICKCAST_TEST_KAFKA_BROKERS and TICKCAST_TEST_ES_URL: run under scripts/services/with-services.sh, as `make bench` does)');
    return;
  }
  const pace = values.pace;
  const pairs = Number(values.pairs ?? process.env.BENCH_SCALE_PAIRS ?? (pace === 'live' ? 200 : 36));
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > 999) throw new Error(`--pairs: an integer from 1 to 999 (got ${values.pairs})`);
  if (pace === 'live') {
    const minutes = Number(values.minutes);
    if (!(minutes >= 1 && minutes <= 55)) throw new Error(`--minutes: from 1 to 55 (got ${values.minutes})`);
    await live(brokers, es, pairs, minutes);
  } else if (pace === 'max') {
    const counts = (values.instances as string).split(',').map(Number);
    if (counts.some((c) => !Number.isInteger(c) || c < 1 || c > PARTITIONS)) throw new Error(`--instances: integers from 1 to ${PARTITIONS} (got ${values.instances})`);
    await throughput(brokers, es, pairs, counts);
  } else throw new Error(`--pace: max or live (got ${pace})`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run(process.argv.slice(2));
