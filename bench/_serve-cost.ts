// Serving cost of one source tree, in process, for before/after comparisons of a change (issue 18: the
// prediction contract change 1f3fc89 against its parent 483e6fa, each checked out with `git worktree add`):
// CPU µs per GET /v1/predictions/latest through fastify's inject (route, cache, response serialisation; no
// network) and per live.prediction() (cache update + websocket frame; no client connected), best of N rounds.
// FORECASTS=1 serves a message with the issue-18 forecasts (the tree must know them).
// Run: node --import tsx bench/_serve-cost.ts <repo root> [rounds]
import { resolve } from 'node:path';
import { pino } from 'pino';
const root = resolve(process.argv[2] ?? '.');
const rounds = Number(process.argv[3] ?? 5);
const forecasts = process.env.FORECASTS === '1';
const { buildApi } = await import(`${root}/ts/src/api/api-server.ts`).then(async (m) => (m.buildApi ? m : await import(`${root}/ts/src/api/api-plugin.ts`)));
const { LiveCache } = await import(`${root}/ts/src/api/live-cache.ts`);
const c = 61_690.25;
const pred = (i: number) => ({
  pair: 'BTC/USD', made_at_ms: 1_723_161_600_000 + i * 60_000, target_ms: 1_723_161_600_000 + i * 60_000 + 300_000, horizon_s: 300,
  predicted_price: 61_700.5 + i, last_close: c, model_name: 'lgbm', model_version: '2024-08-09T00-00-00Z',
  ...(forecasts ? {
    volatility: { value: 0.0012, model_version: 'v' },
    range: { q05: -0.002, q10: -0.0015, q50: 0.00001, q90: 0.0015, q95: 0.002, lo80: c * Math.exp(-0.0015), hi80: c * Math.exp(0.0015), lo90: c * Math.exp(-0.002), hi90: c * Math.exp(0.002), calibrated: true, m80: 1.02, m90: 0.97, model_version: 'v' },
    direction: { p_up: 0.51, model_version: 'v' },
  } : {}),
});
const cache = new LiveCache({ pairs: ['BTC/USD', 'ETH/USD'] });
const app = await buildApi({ logger: pino({ level: 'silent' }), cache, history: { newestFirst: async () => [] } });
await app.ready();
app.live.prediction(pred(0));
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
let rest = Infinity, ws = Infinity;
const N = 4000;
for (let r = 0; r < rounds; r++) {
  let t = cpu();
  for (let i = 0; i < N; i++) {
    const res = await app.inject({ method: 'GET', url: '/v1/predictions/latest?pair=BTC/USD' });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${res.body}`);
  }
  rest = Math.min(rest, (cpu() - t) / N);
  t = cpu();
  for (let i = 1; i <= N; i++) app.live.prediction(pred(r * N + i));
  ws = Math.min(ws, (cpu() - t) / N);
}
const body = (await app.inject({ method: 'GET', url: '/v1/predictions/latest?pair=BTC/USD' })).body;
console.log(JSON.stringify({ root, forecasts, rest_us: +rest.toFixed(2), live_prediction_us: +ws.toFixed(2), body_bytes: body.length }));
await app.close();
