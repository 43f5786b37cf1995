/**
 * The websocket client of bench/latency.ts, in its own process (so its work
 * does not share the server's event loop): a real `ws` client on /v1/ws that
 * subscribes to the pairs given and prints, for every `prediction` frame,
 * `p <pair> <made_at_ms> <arrival>` on stdout, where arrival is the
 * machine-wide monotonic clock (process.hrtime, CLOCK_MONOTONIC: the same in
 * every process) read when the frame is handed to the client, before parsing.
 * Prints `ready` once a snapshot of every pair has arrived.
 *
 *   node --import tsx bench/_latency-client.ts ws://127.0.0.1:8000/v1/ws BTC/USDT,ETH/USDT
 */
import WebSocket from 'ws';

const [url, pairList] = process.argv.slice(2);
if (!url || !pairList) {
  console.error('usage: _latency-client.ts <ws url> <pair,pair...>');
  process.exit(2);
}
const pairs = pairList.split(',');
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const snapshots = new Set<string>();
const ws = new WebSocket(url);
ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', pairs })));
ws.on('message', (data) => {
  const at = monotonicMs();
  const f = JSON.parse(String(data)) as { type: string; pair?: string; data?: { made_at_ms?: number } };
  if (f.type === 'prediction') process.stdout.write(`p ${f.pair} ${f.data?.made_at_ms} ${at}\n`);
  else if (f.type === 'snapshot' && f.pair) {
    snapshots.add(f.pair);
    if (snapshots.size === pairs.length) process.stdout.write('ready\n');
  } else if (f.type === 'error') process.stderr.write(`error frame: ${String(data)}\n`);
});
ws.on('close', (code) => {
  process.stderr.write(`websocket closed (${code})\n`);
  process.exit(code === 1000 || code === 1005 ? 0 : 1);
});
ws.on('error', (e) => {
  process.stderr.write(`websocket error: ${e.message}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => ws.close(1000));
