/**
 * The API in a child process for the websocket memory test, so the test
 * measures the server's memory alone (its clients live in the parent). The
 * live cache is full (the service's 360 rows per series and pair, from real
 * candles), so each snapshot is as large as in production. Talks to the
 * parent over IPC:
 *   → { port }                         once listening
 *   ← { op: 'stats' }    → { op: 'stats', now, peak, clients }   memory now and its peak since start / reset
 *   ← { op: 'reset' }    → { op: 'reset' }                         restart the peak from now
 *   ← { op: 'gc' }       → { op: 'gc' }                            full collection (run with --expose-gc)
 *   ← { op: 'publish', n } → { op: 'published' }                   n new BTC/USD predictions to subscribers
 * argv[2]: JSON of the hub's ws options.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { startApiServer } from '../../src/api/api-server.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import type { Prediction } from '../../src/contracts/messages.ts';
import { errorsFrom, predictionsFrom, realCandles } from './helpers.ts';

const RECENT = 360;
const wsOpts = JSON.parse(process.argv[2] ?? '{}') as Record<string, number>;
const cache = new LiveCache({ pairs: ['BTC/USD', 'ETH/USD'], recent: RECENT });
let lastPrediction: Prediction | null = null;
for (const pair of ['BTC/USD', 'ETH/USD']) {
  const candles = realCandles(pair, RECENT + 6);
  const preds = predictionsFrom(candles);
  for (const c of candles) cache.addCandle(c);
  for (const p of preds) cache.addPrediction(p);
  for (const e of errorsFrom(preds, candles)) cache.addError(e);
  if (pair === 'BTC/USD') lastPrediction = preds[preds.length - 1] as Prediction;
}

type Mem = { rss: number; heapUsed: number; external: number; arrayBuffers: number };
const sample = (): Mem => {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
};
let peak = sample();
const track = () => {
  const m = sample();
  for (const k of Object.keys(m) as (keyof Mem)[]) peak[k] = Math.max(peak[k], m[k]);
};
setInterval(track, 20).unref();

const srv = await startApiServer(
  { logger: pino({ level: 'silent' }), cache, history: { newestFirst: async () => [] }, ws: wsOpts },
  { host: '127.0.0.1', port: 0 },
);
const send = (m: unknown) => process.send?.(m);
let madeAt = (lastPrediction as Prediction).made_at_ms;
process.on('message', (m: { op: string; n?: number }) => {
  if (m.op === 'stats') {
    track();
    send({ op: 'stats', now: sample(), peak, clients: srv.app.wsHub.clientCount });
  } else if (m.op === 'reset') {
    peak = sample();
    send({ op: 'reset' });
  } else if (m.op === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    send({ op: 'gc' });
  } else if (m.op === 'publish') {
    for (let i = 0; i < (m.n ?? 1); i++) {
      madeAt += 60_000;
      srv.app.live.prediction({ ...(lastPrediction as Prediction), made_at_ms: madeAt, target_ms: madeAt + 300_000 });
    }
    send({ op: 'published' });
  } else if (m.op === 'close') {
    void srv.close().then(() => process.exit(0));
  }
});
send({ port: (srv.app.server.address() as AddressInfo).port });
