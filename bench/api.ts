/**
 * Benchmark: the serving path.
 *
 * 1. GET /v1/predictions/latest (served from the in-memory cache) under
 *    autocannon, against a bare fastify hello-world measured in the same run.
 *    Each server runs in its own child process; autocannon runs here.
 *    Goal: at least half the hello-world rate, p99 under 10 ms.
 * 2. Websocket fan-out: 5,000 subscribed clients (in a child process, so the
 *    server is not measuring itself); the time from a prediction's publication
 *    to its arrival at each client, p50 and p99 over all deliveries, and the
 *    time until the LAST client has it. Peer: a bare `ws` server broadcasting
 *    the same frame to the same number of clients. Goal: p99 under 50 ms.
 *    All clients share one process: their own event-loop queueing is included.
 *
 * Run: node --import tsx bench/api.ts   (env BENCH_API_SECONDS, BENCH_WS_CLIENTS)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import type { Prediction } from '../ts/src/contracts/messages.ts';

const SELF = fileURLToPath(import.meta.url);
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 8);
const CLIENTS = Number(process.env.BENCH_WS_CLIENTS ?? 5000);
const MESSAGES = 30;
const CONNECTIONS = Number(process.env.BENCH_API_CONNECTIONS ?? 10);

const now = () => performance.timeOrigin + performance.now();
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

/** N websocket clients; records the arrival time of every prediction frame. */
async function runClients(url: string, n: number, subscribe: boolean): Promise<void> {
  const raw: Buffer[] = [];
  const times: number[] = [];
  const sockets: WebSocket[] = [];
  let ready = 0;
  const open = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      sockets.push(ws);
      ws.on('error', reject);
      ws.on('message', (d: Buffer) => {
        // Stamp first, parse later: the clients' own JSON work stays out of the measurement.
        const t = now();
        if (d.includes('"type":"prediction"')) {
          raw.push(d);
          times.push(t);
        } else if (d.includes('"type":"snapshot"')) {
          ready++;
          resolve();
        }
      });
      ws.on('open', () => {
        if (subscribe) ws.send(JSON.stringify({ op: 'subscribe', pairs: ['BTC/USD'] }));
        else {
          ready++;
          resolve();
        }
      });
    });
  for (let i = 0; i < n; i += 250) await Promise.all(Array.from({ length: Math.min(250, n - i) }, open));
  process.send?.({ kind: 'ready', clients: ready });
  process.on('message', (m: { kind: string }) => {
    if (m.kind === 'report') {
      const arrivals = new Map<number, number[]>();
      raw.forEach((d, i) => {
        const made = (JSON.parse(String(d)) as { data: Prediction }).data.made_at_ms;
        let a = arrivals.get(made);
        if (!a) arrivals.set(made, (a = []));
        a.push(times[i] as number);
      });
      process.send?.({ kind: 'arrivals', arrivals: [...arrivals.entries()] });
    } else if (m.kind === 'exit') {
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }
  });
}

// ------------------------------------------------------------------- parent ----

function child(args: string[]): ChildProcess {
  return fork(SELF, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}
const nextMessage = <T>(c: ChildProcess, kind: string): Promise<T> =>
  new Promise((resolve, reject) => {
    const on = (m: { kind: string } & T) => {
      if (m.kind === kind) {
        c.off('message', on);
        resolve(m);
      }
    };
    c.on('message', on);
    c.once('exit', (code) => reject(new Error(`child exited (${code}) before "${kind}"`)));
  });

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, seconds = SECONDS): Promise<Load> {
  const { default: autocannon } = (await import('autocannon')) as unknown as {
    default: (o: object) => Promise<{ requests: { average: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number }>;
  };
  const r = await autocannon({ url, connections: CONNECTIONS, pipelining: 1, duration: seconds });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

async function restBench(): Promise<void> {
  const results: { name: string; r: Load }[] = [];
  for (const [name, mode, path] of [
    ['fastify hello-world (peer)', 'hello', '/'],
    ['GET /v1/predictions/latest', 'api', '/v1/predictions/latest?pair=BTC/USD'],
  ] as const) {
    const c = child(['--serve', mode]);
    try {
      const { port } = await nextMessage<{ port: number }>(c, 'listening');
      await load(`http://127.0.0.1:${port}${path}`, 2); // warm-up (JIT, connections)
      results.push({ name, r: await load(`http://127.0.0.1:${port}${path}`) });
    } finally {
      c.kill('SIGTERM');
    }
  }
  const hello = results[0]!.r;
  console.log(`\nREST (autocannon, ${CONNECTIONS} connections, ${SECONDS} s per run after a 2 s warm-up, server in a child process)`);
  console.log('| server | req/s | p50 ms | p99 ms | errors | req/s vs hello-world |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const { name, r } of results) {
    console.log(`| ${name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${(r.rps / hello.rps).toFixed(2)} |`);
  }
  const ours = results[1]!.r;
  console.log(
    `goal: >= 0.5 x hello-world and p99 < 10 ms: ${ours.rps / hello.rps >= 0.5 ? 'met' : 'NOT met'} (ratio ${(ours.rps / hello.rps).toFixed(2)}), ${ours.p99 < 10 ? 'met' : 'NOT met'} (p99 ${ours.p99} ms)`,
  );
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
  lastP50: number;
  lastP99: number;
}

async function fanOut(kind: 'ours' | 'bare'): Promise<FanOut> {
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
  const c = child(['--clients', url, String(CLIENTS), kind === 'ours' ? 'subscribe' : 'plain']);
  try {
    const { clients } = await nextMessage<{ clients: number }>(c, 'ready');
    const published = new Map<number, number>();
    for (let i = 1; i <= MESSAGES; i++) {
      const p = prediction(i);
      published.set(p.made_at_ms, now());
      publish(p);
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    c.send({ kind: 'report' });
    const { arrivals } = await nextMessage<{ arrivals: [number, number[]][] }>(c, 'arrivals');
    const all: number[] = [];
    const last: number[] = [];
    for (const [made, times] of arrivals) {
      const t0 = published.get(made) as number;
      const lat = times.map((t) => t - t0);
      all.push(...lat);
      if (times.length === clients) last.push(Math.max(...lat));
    }
    return { clients, deliveries: all.length, expected: clients * MESSAGES, p50: pct(all, 50), p99: pct(all, 99), lastP50: pct(last, 50), lastP99: pct(last, 99) };
  } finally {
    c.send({ kind: 'exit' });
    await close();
  }
}

async function wsBench(): Promise<void> {
  const rows: [string, FanOut][] = [];
  rows.push(['bare ws broadcast (peer)', await fanOut('bare')]);
  rows.push(['/v1/ws (ours)', await fanOut('ours')]);
  console.log(`\nWebsocket fan-out (${CLIENTS} clients in one child process, ${MESSAGES} predictions 200 ms apart; latency = arrival at a client − publication)`);
  console.log('| server | clients | deliveries | p50 ms | p99 ms | all clients have it, p50 ms | p99 ms | p99 vs peer |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const peer = rows[0]![1];
  for (const [name, r] of rows) {
    console.log(
      `| ${name} | ${r.clients} | ${r.deliveries}/${r.expected} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.lastP50.toFixed(1)} | ${r.lastP99.toFixed(1)} | ${(r.p99 / peer.p99).toFixed(2)} |`,
    );
  }
  const ours = rows[1]![1];
  console.log(`goal: p99 < 50 ms: ${ours.p99 < 50 ? 'met' : 'NOT met'} (p99 ${ours.p99.toFixed(1)} ms)`);
}

export async function run(): Promise<void> {
  await restBench();
  await wsBench();
}

// ------------------------------------------------------------------- entry ----
const argv = process.argv.slice(2);
if (argv[0] === '--serve') {
  const port = argv[1] === 'hello' ? await serveHello() : await serveApi();
  process.send?.({ kind: 'listening', port });
  process.on('SIGTERM', () => process.exit(0));
} else if (argv[0] === '--clients') {
  await runClients(argv[1] as string, Number(argv[2]), argv[3] === 'subscribe');
} else if (process.argv[1] === SELF) {
  await run();
}
