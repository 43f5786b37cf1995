/**
 * Benchmark: the serving path.
 *
 * 1. GET /v1/predictions/latest (served from the in-memory cache) under
 *    autocannon at 10 and 50 connections, against a bare fastify hello-world
 *    measured in the same run. Each server runs in its own child process;
 *    autocannon runs here. Goal: at least half the hello-world rate, p99
 *    under 10 ms.
 * 2. Websocket fan-out: 5,000 subscribed clients spread over BENCH_WS_PROCS
 *    load-generator processes, so the server does not measure itself; the
 *    time from a prediction's publication to its arrival at each client (one
 *    machine-wide monotonic clock), p50 / p99 / max over all deliveries, the
 *    time until the LAST client has it, the time and CPU spent in the send
 *    loop. Peer: a bare `ws` server broadcasting the same frame with ws.send
 *    to the same load generator. Goal: p99 under 50 ms.
 *    The load generator (BENCH_WS_LOAD): `native` (default) is bench/wsload,
 *    the Rust binary `tickcast-wsload` (raw RFC 6455 clients over TCP, one
 *    thread and one epoll per process), built here first with
 *    `cargo build --release -p tickcast-wsload` into CARGO_TARGET_DIR (the
 *    Makefile's default when unset) and driven over its stdin / stdout (see
 *    its --help). `node` is the same clients in Node (bench/_ws-load.ts) in
 *    children forked from this file, driven over IPC; they cost two to four
 *    times the CPU per delivery, which on a small machine is taken from the
 *    server being measured. The table prints the clients' CPU per delivery.
 *
 * The REST table also gives the server process's CPU time per request
 * (its process.cpuUsage over the measured run / requests served), the figure
 * that moves least with the load of a shared machine.
 *
 * The prediction served is price-only (as before issue 18) unless
 * BENCH_API_FORECASTS=1: then it carries the issue-18 forecasts too
 * (volatility, range with its 80% / 90% intervals, direction), the frame a
 * pair with every target's model gets.
 *
 * Run: node --import tsx bench/api.ts [rest|ws]
 *   env BENCH_API_SECONDS (8), BENCH_API_CONNECTIONS (10,50), BENCH_WS_CLIENTS (5000), BENCH_WS_PROCS (2),
 *       BENCH_WS_LOAD (native | node), BENCH_API_FORECASTS (0 | 1)
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import type { Prediction } from '../ts/src/contracts/messages.ts';
import { monotonicMs, openClients } from './_ws-load.ts';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), '..');
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 8);
const CLIENTS = Number(process.env.BENCH_WS_CLIENTS ?? 5000);
const MESSAGES = 30;
/** autocannon connections, one REST run per value. */
const CONNECTIONS = (process.env.BENCH_API_CONNECTIONS ?? '10,50').split(',').map(Number);
/** Child processes the websocket clients are spread over. */
const WS_PROCS = Math.max(1, Number(process.env.BENCH_WS_PROCS ?? 2));
/** Websocket load generator: `native` (bench/wsload) or `node` (bench/_ws-load.ts). */
const WS_LOAD = process.env.BENCH_WS_LOAD || 'native';
/** Serve messages with the issue-18 forecasts (volatility, range, direction). */
const FORECASTS = process.env.BENCH_API_FORECASTS === '1';

const silent = pino({ level: 'silent' });

function prediction(i: number): Prediction {
  return {
    pair: 'BTC/USD',
    made_at_ms: 1_723_161_600_000 + i * 60_000,
    target_ms: 1_723_161_600_000 + i * 60_000 + 300_000,
    horizon_s: 300,
    predicted_price: 61_700.5 + i,
    last_close: 61_690.25,
    model_name: 'lgbm',
    model_version: '2024-08-09T00-00-00Z',
    ...(FORECASTS ? forecasts(61_690.25) : {}),
  };
}

/** The issue-18 forecasts of a message at close c (BENCH_API_FORECASTS=1). */
function forecasts(c: number): Record<string, unknown> {
  const v = 'range-2024-08-09T00-00-00Z';
  return {
    volatility: { value: 0.0012, model_version: v },
    range: { q05: -0.002, q10: -0.0015, q50: 0.00001, q90: 0.0015, q95: 0.002, lo80: c * Math.exp(-0.0015), hi80: c * Math.exp(0.0015), lo90: c * Math.exp(-0.002), hi90: c * Math.exp(0.002), calibrated: true, m80: 1.02, m90: 0.97, model_version: v },
    direction: { p_up: 0.51, model_version: v },
  };
}

// ---------------------------------------------------------------- children ----

async function serveApi(): Promise<number> {
  const { startApiServer } = await import('../ts/src/api/api-server.ts');
  const { LiveCache } = await import('../ts/src/api/live-cache.ts');
  const cache = new LiveCache({ pairs: ['BTC/USD', 'ETH/USD'] });
  cache.addPrediction(prediction(0));
  const srv = await startApiServer({ logger: silent, cache, history: { newestFirst: async () => [] } }, { host: '127.0.0.1', port: 0 });
  return srv.port;
}

async function serveHello(): Promise<number> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
}

/** Child (BENCH_WS_LOAD=node): N lean websocket clients (bench/_ws-load.ts); reports the arrival of every prediction frame. */
async function runClients(url: string, n: number, subscribe: boolean): Promise<void> {
  const load = await openClients(url, n, subscribe ? ['BTC/USD'] : null);
  let cpu0 = process.cpuUsage();
  process.send?.({ kind: 'ready', clients: load.ready });
  process.on('message', (m: { kind: string }) => {
    if (m.kind === 'start') cpu0 = process.cpuUsage();
    else if (m.kind === 'report') {
      const cpu = process.cpuUsage(cpu0);
      process.send?.({
        kind: 'arrivals',
        made: load.made,
        at: load.at,
        errorFrames: load.errorFrames,
        closes: load.closes,
        protocolErrors: load.protocolErrors,
        cpuUs: cpu.user + cpu.system,
      });
    } else if (m.kind === 'exit') {
      load.end();
      process.exit(0);
    }
  });
}

// ------------------------------------------------------------------- parent ----

function child(args: string[]): ChildProcess {
  return fork(SELF, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}
/** The next message of `kind` from a child (its IPC messages, or those given by `messages`); rejects if it exits first. */
const nextMessage = <T>(c: ChildProcess, kind: string, messages: EventEmitter = c): Promise<T> =>
  new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child exited (${code}) before "${kind}"`));
    const on = (m: { kind: string } & T) => {
      if (m.kind === kind) {
        messages.off('message', on);
        c.off('exit', onExit);
        resolve(m);
      }
    };
    messages.on('message', on);
    c.once('exit', onExit);
  });

/** One websocket load-generator process: its messages (`ready`, `arrivals`) and its commands. */
interface LoadProcess {
  next<T>(kind: string): Promise<T>;
  send(command: 'start' | 'report' | 'exit'): void;
}
type LoadSpawner = (url: string, clients: number, subscribe: boolean) => LoadProcess;

/** BENCH_WS_LOAD=node: a child forked from this file (runClients), over IPC. */
const nodeLoad: LoadSpawner = (url, clients, subscribe) => {
  const c = child(['--clients', url, String(clients), subscribe ? 'subscribe' : 'plain']);
  return { next: (kind) => nextMessage(c, kind), send: (command) => c.send({ kind: command }) };
};

/**
 * BENCH_WS_LOAD=native: builds bench/wsload (release; CARGO_TARGET_DIR as the
 * Makefile sets it) and returns a spawner of `tickcast-wsload` processes, which
 * take commands on stdin and print one JSON message per line on stdout.
 */
function nativeLoad(): LoadSpawner {
  const cache = process.env.TICKCAST_CACHE || join(homedir(), '.cache', 'tickcast');
  const targetDir = resolve(ROOT, process.env.CARGO_TARGET_DIR || join(cache, 'cargo-target'));
  const build = spawnSync('cargo', ['build', '--release', '-p', 'tickcast-wsload'], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, CARGO_TARGET_DIR: targetDir },
  });
  if (build.status !== 0) throw new Error(`cargo build --release -p tickcast-wsload failed (${build.error?.message ?? `exit ${build.status}`})`);
  const bin = join(targetDir, 'release', 'tickcast-wsload');
  return (url, clients, subscribe) => {
    const args = ['--url', url, '--clients', String(clients), ...(subscribe ? ['--subscribe', 'BTC/USD'] : [])];
    const c = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const messages = new EventEmitter();
    createInterface({ input: c.stdout }).on('line', (line) => {
      try {
        messages.emit('message', JSON.parse(line));
      } catch {
        console.error(`tickcast-wsload printed a line that is not JSON: ${line.slice(0, 200)}`);
      }
    });
    c.stdin.on('error', () => {}); // EPIPE after it exited: next() reports the exit
    return { next: (kind) => nextMessage(c, kind, messages), send: (command) => c.stdin.write(`${command}\n`) };
  };
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  /** Server CPU µs per request over the run (NaN when not measured). */
  cpuUs: number;
}

async function load(url: string, connections: number, seconds = SECONDS): Promise<Load> {
  const { default: autocannon } = (await import('autocannon')) as unknown as {
    default: (o: object) => Promise<{ requests: { average: number; total: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number }>;
  };
  const r = await autocannon({ url, connections, pipelining: 1, duration: seconds });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx, requests: r.requests.total, cpuUs: Number.NaN };
}

/** The server child's CPU time so far (µs). */
async function childCpu(c: ChildProcess): Promise<number> {
  const m = nextMessage<{ us: number }>(c, 'cpu');
  c.send({ kind: 'cpu' });
  return (await m).us;
}

async function restBench(): Promise<void> {
  const results: { name: string; connections: number; r: Load }[] = [];
  for (const [name, mode, path] of [
    ['fastify hello-world (peer)', 'hello', '/'],
    ['GET /v1/predictions/latest', 'api', '/v1/predictions/latest?pair=BTC/USD'],
  ] as const) {
    const c = child(['--serve', mode]);
    try {
      const { port } = await nextMessage<{ port: number }>(c, 'listening');
      const url = `http://127.0.0.1:${port}${path}`;
      await load(url, Math.max(...CONNECTIONS), 2); // warm-up (JIT, connections)
      for (const connections of CONNECTIONS) {
        const cpu0 = await childCpu(c);
        const r = await load(url, connections);
        r.cpuUs = ((await childCpu(c)) - cpu0) / Math.max(1, r.requests);
        results.push({ name, connections, r });
      }
    } finally {
      c.kill('SIGTERM');
    }
  }
  console.log(`\nREST (autocannon in this process, ${SECONDS} s per run after a 2 s warm-up, each server in a child process)`);
  console.log(`served prediction: ${FORECASTS ? 'with the issue-18 forecasts (BENCH_API_FORECASTS=1)' : 'price only'}`);
  console.log('| server | connections | req/s | p50 ms | p99 ms | errors | server CPU µs / request | req/s vs hello-world |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const helloAt = (n: number) => results.find((x) => x.connections === n && x.name.startsWith('fastify'))!.r;
  for (const { name, connections, r } of results) {
    console.log(`| ${name} | ${connections} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.cpuUs.toFixed(1)} | ${(r.rps / helloAt(connections).rps).toFixed(2)} |`);
  }
  for (const { connections, r: ours } of results.filter((x) => !x.name.startsWith('fastify'))) {
    const ratio = ours.rps / helloAt(connections).rps;
    console.log(
      `goal at ${connections} connections: >= 0.5 x hello-world: ${ratio >= 0.5 ? 'met' : 'NOT met'} (ratio ${ratio.toFixed(2)}); p99 < 10 ms: ${ours.p99 < 10 ? 'met' : 'NOT met'} (p99 ${ours.p99} ms)`,
    );
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

interface FanOut {
  clients: number;
  deliveries: number;
  expected: number;
  p50: number;
  p99: number;
  max: number;
  lastP50: number;
  lastP99: number;
  /** Time inside publish() (the synchronous send loop), p50 and max over the messages. */
  loopP50: number;
  loopMax: number;
  /** CPU time per delivery (µs): the server's send loop, and the clients' processes over the whole message phase. */
  serverCpuUs: number;
  clientCpuUs: number;
  problems: number;
}

async function fanOut(kind: 'ours' | 'bare', spawnLoad: LoadSpawner): Promise<FanOut> {
  let publish: (p: Prediction) => void;
  let close: () => Promise<void>;
  let url: string;
  if (kind === 'ours') {
    const { startApiServer } = await import('../ts/src/api/api-server.ts');
    const { LiveCache } = await import('../ts/src/api/live-cache.ts');
    const srv = await startApiServer(
      { logger: silent, cache: new LiveCache({ pairs: ['BTC/USD'] }), history: { newestFirst: async () => [] } },
      { host: '127.0.0.1', port: 0 },
    );
    publish = (p) => srv.app.live.prediction(p);
    close = () => srv.close();
    url = `ws://127.0.0.1:${srv.port}/v1/ws`;
  } else {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    publish = (p) => {
      const text = JSON.stringify({ type: 'prediction', pair: p.pair, data: p });
      for (const ws of wss.clients) ws.send(text);
    };
    close = () =>
      new Promise<void>((r) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => r());
      });
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  }
  const per = Array.from({ length: WS_PROCS }, (_, i) => Math.floor(CLIENTS / WS_PROCS) + (i < CLIENTS % WS_PROCS ? 1 : 0));
  const kids = per.map((n) => spawnLoad(url, n, kind === 'ours'));
  try {
    const readies = await Promise.all(kids.map((c) => c.next<{ clients: number }>('ready')));
    const clients = readies.reduce((a, r) => a + r.clients, 0);
    await new Promise((r) => setTimeout(r, 500)); // let the connection burst settle
    for (const c of kids) c.send('start');
    await new Promise((r) => setTimeout(r, 100));
    const published = new Map<number, number>();
    const loops: number[] = [];
    let serverCpu = 0;
    for (let i = 1; i <= MESSAGES; i++) {
      const p = prediction(i);
      const cpu0 = process.cpuUsage();
      const t0 = monotonicMs();
      published.set(p.made_at_ms, t0);
      publish(p);
      loops.push(monotonicMs() - t0);
      const cpu = process.cpuUsage(cpu0);
      serverCpu += cpu.user + cpu.system;
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const reports = await Promise.all(
      kids.map((c) => {
        const m = c.next<{ made: number[]; at: number[]; errorFrames: number; closes: number; protocolErrors: number; cpuUs: number }>('arrivals');
        c.send('report');
        return m;
      }),
    );
    const byMade = new Map<number, number[]>();
    let problems = 0;
    let clientCpu = 0;
    for (const r of reports) {
      clientCpu += r.cpuUs;
      problems += r.errorFrames + r.closes + r.protocolErrors;
      r.made.forEach((made, i) => {
        let a = byMade.get(made);
        if (!a) byMade.set(made, (a = []));
        a.push((r.at[i] as number) - (published.get(made) ?? NaN));
      });
    }
    const all: number[] = [];
    const last: number[] = [];
    for (const lat of byMade.values()) {
      all.push(...lat);
      if (lat.length === clients) last.push(Math.max(...lat));
    }
    return {
      clients,
      deliveries: all.length,
      expected: clients * MESSAGES,
      p50: pct(all, 50),
      p99: pct(all, 99),
      max: pct(all, 100),
      lastP50: pct(last, 50),
      lastP99: pct(last, 99),
      loopP50: pct(loops, 50),
      loopMax: pct(loops, 100),
      serverCpuUs: serverCpu / (clients * MESSAGES),
      clientCpuUs: clientCpu / (clients * MESSAGES),
      problems,
    };
  } finally {
    for (const c of kids) c.send('exit');
    await close();
  }
}

async function wsBench(): Promise<void> {
  if (WS_LOAD !== 'native' && WS_LOAD !== 'node') throw new Error(`BENCH_WS_LOAD=${WS_LOAD}: expected native or node`);
  const spawnLoad = WS_LOAD === 'native' ? nativeLoad() : nodeLoad;
  const loadName =
    WS_LOAD === 'native'
      ? `native clients: bench/wsload (tickcast-wsload, Rust, one epoll thread each), in ${WS_PROCS} process(es)`
      : `Node clients: bench/_ws-load.ts, in ${WS_PROCS} child process(es)`;
  const rows: [string, FanOut][] = [];
  rows.push(['bare ws broadcast (peer)', await fanOut('bare', spawnLoad)]);
  rows.push(['/v1/ws (ours)', await fanOut('ours', spawnLoad)]);
  console.log(
    `\nWebsocket fan-out: ${CLIENTS} clients (lean RFC 6455 clients over raw TCP; load generator BENCH_WS_LOAD=${WS_LOAD}: ${loadName}), ` +
      `${MESSAGES} predictions 200 ms apart (${FORECASTS ? 'with the issue-18 forecasts' : 'price only'}), server in this process.\n` +
      'Latency = arrival at a client − publication, both read from the machine-wide monotonic clock (process.hrtime, CLOCK_MONOTONIC): ' +
      'publication = just before publish() on the server; arrival = when the client process reads the socket chunk holding the frame ' +
      '(before parsing). "all clients" = when the last client has the message. "send loop" = time inside publish(). ' +
      'CPU per delivery = CPU time (user + system) of the server during publish(), and of the client processes over the message phase, divided by the deliveries.',
  );
  console.log(
    '| server | clients | deliveries | p50 ms | p99 ms | max ms | all clients have it, p50 ms | p99 ms | send loop p50 / max ms | CPU per delivery: server / clients µs | problems | p99 vs peer | p99 vs goal (50 ms) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const peer = rows[0]![1];
  for (const [name, r] of rows) {
    console.log(
      `| ${name} | ${r.clients} | ${r.deliveries}/${r.expected} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.lastP50.toFixed(1)} | ${r.lastP99.toFixed(1)} | ${r.loopP50.toFixed(1)} / ${r.loopMax.toFixed(1)} | ${r.serverCpuUs.toFixed(1)} / ${r.clientCpuUs.toFixed(1)} | ${r.problems} | ${(r.p99 / peer.p99).toFixed(2)} | ${(r.p99 / 50).toFixed(2)} |`,
    );
  }
  const ours = rows[1]![1];
  console.log(`goal: p99 < 50 ms: ${ours.p99 < 50 ? 'met' : 'NOT met'} (p99 ${ours.p99.toFixed(1)} ms, ${(ours.p99 / 50).toFixed(2)} x the goal)`);
}

/** Both parts, or one: `node --import tsx bench/api.ts rest` (or `ws`). */
export async function run(parts: readonly string[] = []): Promise<void> {
  if (parts.length === 0 || parts.includes('rest')) await restBench();
  if (parts.length === 0 || parts.includes('ws')) await wsBench();
}

// ------------------------------------------------------------------- entry ----
const argv = process.argv.slice(2);
if (argv[0] === '--serve') {
  const port = argv[1] === 'hello' ? await serveHello() : await serveApi();
  process.send?.({ kind: 'listening', port });
  process.on('message', (m: { kind: string }) => {
    if (m.kind === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ kind: 'cpu', us: u.user + u.system });
    }
  });
  process.on('SIGTERM', () => process.exit(0));
} else if (argv[0] === '--clients') {
  await runClients(argv[1] as string, Number(argv[2]), argv[3] === 'subscribe');
} else if (process.argv[1] === SELF) {
  await run(argv);
}
