/**
 * The alert rule state machine (time driven by hand) and webhook delivery to a
 * local recorder server (node:http on 127.0.0.1) in the real Slack, Discord
 * and generic payload shapes, including an endpoint that fails then recovers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlertEngine, DEFAULT_RULES, parseRules, type AlertRule, type AlertEvent } from '../../src/monitor/alert-rules.ts';
import { Notifier } from '../../src/monitor/notifiers.ts';
import { quietLogger } from './fixtures.ts';

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 1);
const rule = (over: Partial<AlertRule> = {}): AlertRule => ({
  name: 'worse_than_baseline',
  signal: 'mae_vs_baseline',
  op: '>',
  threshold: 1,
  for_s: 1800,
  reminder_s: 3600,
  severity: 'warning',
  window: '1h',
  summary: "model MAE above the baseline's",
  ...over,
});
const sig = (value: number, key = 'BTC/USD v1') => [{ signal: 'mae_vs_baseline' as const, key, value, window: '1h' as const }];
const states = (es: AlertEvent[]) => es.map((e) => `${e.state}:${e.key}`);

test('fires only after holding for_s, reminds on the interval, resolves once: no storm', () => {
  const eng = new AlertEngine([rule()]);
  assert.deepEqual(eng.evaluate(sig(1.2), T0), []);
  assert.equal(eng.active()[0]?.state, 'pending');
  assert.deepEqual(eng.evaluate(sig(1.3), T0 + 29 * MIN), [], 'not yet 30 minutes');
  const fired = eng.evaluate(sig(1.4), T0 + 30 * MIN);
  assert.deepEqual(states(fired), ['firing:BTC/USD v1']);
  assert.equal(fired[0]?.since_ms, T0);
  // Every check while firing: silent until the reminder interval.
  for (let m = 31; m < 90; m += 1) assert.deepEqual(eng.evaluate(sig(1.5), T0 + m * MIN), [], `minute ${m}`);
  assert.deepEqual(states(eng.evaluate(sig(1.5), T0 + 90 * MIN)), ['reminder:BTC/USD v1']);
  assert.deepEqual(eng.evaluate(sig(1.5), T0 + 91 * MIN), []);
  const resolved = eng.evaluate(sig(0.9), T0 + 100 * MIN);
  assert.deepEqual(states(resolved), ['resolved:BTC/USD v1']);
  assert.deepEqual(eng.evaluate(sig(0.8), T0 + 101 * MIN), [], 'resolved is sent once');
  assert.deepEqual(eng.active(), []);
});

test('a dip below the threshold restarts the for_s clock; pending never notifies; keys are independent; a vanished key resolves', () => {
  const eng = new AlertEngine([rule()]);
  eng.evaluate(sig(1.2), T0);
  assert.deepEqual(eng.evaluate(sig(0.5), T0 + 20 * MIN), [], 'pending -> ok: nothing to resolve');
  eng.evaluate(sig(1.2), T0 + 25 * MIN);
  assert.deepEqual(eng.evaluate(sig(1.2), T0 + 50 * MIN), [], 'only 25 minutes since the dip');
  assert.deepEqual(states(eng.evaluate(sig(1.2), T0 + 55 * MIN)), ['firing:BTC/USD v1']);
  const both = [...sig(1.2), ...sig(2, 'ETH/USD v1')];
  assert.deepEqual(eng.evaluate(both, T0 + 56 * MIN), []);
  assert.deepEqual(states(eng.evaluate(both, T0 + 86 * MIN)), ['firing:ETH/USD v1']);
  assert.deepEqual(states(eng.evaluate(sig(2, 'ETH/USD v1'), T0 + 87 * MIN)), ['resolved:BTC/USD v1']);
  // for_s 0 and op '<'; other windows are ignored by a 1h rule.
  const e2 = new AlertEngine([rule({ name: 'low', op: '<', threshold: 0.5, for_s: 0, reminder_s: 0 })]);
  assert.deepEqual(e2.evaluate([{ signal: 'mae_vs_baseline', key: 'k', value: 0.1, window: '1d' }], T0), []);
  assert.deepEqual(states(e2.evaluate(sig(0.1, 'k'), T0)), ['firing:k']);
  assert.deepEqual(e2.evaluate(sig(0.1, 'k'), T0 + 100 * 3600_000), [], 'reminder_s 0: never reminds');
});

test('rules: defaults are valid, a JSON list gets defaults filled, bad lists are refused with a reason', () => {
  assert.equal(parseRules(JSON.parse(JSON.stringify(DEFAULT_RULES))).length, DEFAULT_RULES.length);
  const [r] = parseRules([{ name: 'np', signal: 'prediction_age_s', threshold: 300, summary: 'no prediction' }]);
  assert.equal(r?.op, '>');
  assert.equal(r?.for_s, 0);
  assert.throws(() => parseRules([{ name: 'x', signal: 'nope', threshold: 1, summary: 's' }]), /signal/);
  assert.throws(() => parseRules([rule(), rule()]), /duplicate rule name/);
  assert.throws(() => parseRules({}), /array/);
});

// --- webhook recorder -------------------------------------------------------
interface Received {
  path: string;
  body: Record<string, unknown>;
  contentType: string | undefined;
}
const received: Received[] = [];
let failuresLeft = 0;
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/flaky' && failuresLeft > 0) {
      failuresLeft--;
      res.writeHead(failuresLeft % 2 === 0 ? 503 : 429, failuresLeft % 2 === 0 ? {} : { 'retry-after': '0' }).end('busy');
      return;
    }
    if (req.url === '/gone') {
      res.writeHead(404).end('no such webhook');
      return;
    }
    received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>, contentType: req.headers['content-type'] });
    res.writeHead(req.url === '/discord' ? 204 : 200).end(req.url === '/slack' ? 'ok' : '');
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => new Promise<void>((r) => server.close(() => r())));

const event = (state: AlertEvent['state']): AlertEvent => ({ state, rule: rule({ severity: 'critical' }), key: 'BTC/USD v1', value: 1.37, since_ms: T0, at_ms: T0 + 30 * MIN });

test('Slack, Discord and generic webhooks receive their formats with the state, the values and the dashboard link', async () => {
  received.length = 0;
  const dash = 'http://dash.example:3000/';
  const n = new Notifier({ slackUrl: `${base}/slack`, discordUrl: `${base}/discord`, webhookUrl: `${base}/hook`, dashboardUrl: dash, logger: quietLogger(), baseDelayMs: 1 });
  n.notify(event('firing'));
  n.notify(event('resolved'));
  await n.flush();
  assert.equal(received.length, 6);
  for (const r of received) assert.equal(r.contentType, 'application/json');
  const slack = received.filter((r) => r.path === '/slack').map((r) => r.body);
  assert.match(String(slack[0]?.text), /FIRING.*worse_than_baseline.*BTC\/USD v1.*1\.37 > 1\.00/);
  assert.ok(Array.isArray(slack[0]?.blocks));
  assert.match(JSON.stringify(slack[0]?.blocks), /<http:\/\/dash\.example:3000\/\|Open the tickcast dashboard>/);
  assert.match(String(slack[1]?.text), /RESOLVED/);
  const discord = received.filter((r) => r.path === '/discord').map((r) => r.body);
  assert.match(String(discord[0]?.content), /FIRING/);
  const embed = (discord[0]?.embeds as Record<string, unknown>[])[0];
  assert.equal(embed?.url, dash);
  assert.equal(embed?.color, 0xc62828);
  assert.equal(((discord[1]?.embeds as Record<string, unknown>[])[0])?.color, 0x2e7d32);
  const hook = received.filter((r) => r.path === '/hook').map((r) => r.body);
  assert.deepEqual(
    { state: hook[0]?.state, rule: hook[0]?.rule, key: hook[0]?.key, value: hook[0]?.value, threshold: hook[0]?.threshold, dashboard_url: hook[0]?.dashboard_url },
    { state: 'firing', rule: 'worse_than_baseline', key: 'BTC/USD v1', value: 1.37, threshold: 1, dashboard_url: dash },
  );
  assert.equal(hook[1]?.state, 'resolved');
});

test('a failing-then-recovering endpoint gets the message after retries; a dead one is given up after a bounded number, never throwing', async () => {
  received.length = 0;
  failuresLeft = 3; // 429 (Retry-After 0), 503, 429, then 200
  const n = new Notifier({ webhookUrl: `${base}/flaky`, logger: quietLogger(), baseDelayMs: 5, maxAttempts: 5 });
  assert.equal(await n.deliver('webhook', `${base}/flaky`, { hello: 1 }), true);
  assert.equal(failuresLeft, 0);
  assert.deepEqual(received.map((r) => r.body), [{ hello: 1 }], 'delivered exactly once');
  failuresLeft = 100;
  assert.equal(await n.deliver('webhook', `${base}/flaky`, { hello: 2 }), false);
  assert.equal(failuresLeft, 95, 'bounded: 5 attempts');
  failuresLeft = 0;
  assert.equal(await n.deliver('webhook', `${base}/gone`, {}), false, '404 is not retried');
  // Nothing listens here: connection refused is retried and then given up.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
  await new Promise<void>((r) => closed.close(() => r()));
  assert.equal(await n.deliver('slack', deadUrl, {}), false);
});
