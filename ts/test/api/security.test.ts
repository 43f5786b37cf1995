/**
 * The holes found by outside testing of the API (issue 14), each as the
 * attack itself: API-key bypass through other spellings of a path (over a
 * real socket, so the request target reaches the server byte for byte),
 * rate-limit bypass and key guessing, forged and tampered paging cursors,
 * /metrics exposure, security headers, CORS, 405 and the one error shape.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { FastifyInstance } from 'fastify';
import { buildApi, type ApiDeps } from '../../src/api/api-plugin.ts';
import { API_ERRORS } from '../../src/api/api-error.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import type { HistoryRange, PredictionHistory } from '../../src/api/history.ts';
import type { Prediction } from '../../src/contracts/messages.ts';
import { PAIRS, predictionsFrom, quietLogger, realCandles } from './helpers.ts';
import { rawRequest, type RawResponse } from './raw-http.ts';

const KEY = 'k-alpha-123456';

async function make(over: Partial<ApiDeps> & Record<string, unknown> = {}): Promise<FastifyInstance> {
  const cache = new LiveCache({ pairs: PAIRS });
  for (const p of predictionsFrom(realCandles('BTC/USD', 5))) cache.addPrediction(p);
  return buildApi({ logger: quietLogger(), cache, history: { newestFirst: async () => [] }, ...over } as ApiDeps);
}

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
}

const json = (r: { body: string }) => JSON.parse(r.body) as Record<string, any>;

/** The API's one error shape: `{ error: { code, message } }`, the code one of API_ERRORS with this status. */
function assertErrorShape(r: { statusCode?: number; status?: number; body: string }, what: string): string {
  const status = r.statusCode ?? r.status;
  let body: Record<string, any>;
  try {
    body = JSON.parse(r.body) as Record<string, any>;
  } catch {
    assert.fail(`${what}: status ${status}, body is not JSON: ${JSON.stringify(r.body.slice(0, 200))}`);
  }
  assert.deepEqual(Object.keys(body), ['error'], `${what}: ${r.body}`);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message'], `${what}: ${r.body}`);
  const code = body.error.code as string;
  assert.ok(code in API_ERRORS, `${what}: unknown code ${code}`);
  assert.equal(API_ERRORS[code as keyof typeof API_ERRORS], status, `${what}: code ${code} does not go with status ${status}`);
  assert.ok(typeof body.error.message === 'string' && body.error.message.length > 5, what);
  return code;
}

describe('API keys are decided on the route that matched, never on the raw URL', () => {
  // Spellings of /v1 paths: the router may decode them to a /v1 route; none may answer without a key.
  const TARGETS = [
    '/%761/predictions/latest?pair=BTC/USD',
    '/v%31/pairs',
    '/%761/monitoring',
    '/%76%31/pairs',
    '/v1/%70airs',
    'http://x/v1/pairs',
    'http://x/%761/pairs',
    'HTTP://X/v1/pairs',
    '/%25761/pairs',
    '/v%2531/pairs',
    '//v1/pairs',
    '/v1//pairs',
    '/v1/../v1/pairs',
    '/v1/./pairs',
    '/x/../v1/pairs',
    '/v1/pairs.',
    '/v1./pairs',
    '/v1/pairs/',
    '/V1/PAIRS',
    '/V1/pairs',
    '/v1/Pairs',
    '/v1%2Fpairs',
    '/v1/pairs%2F',
    '/v1/pairs;a=b',
    '/v1/pairs%20',
    '/v1/pairs#x',
    '/v1/pairs?x-api-key=' + KEY,
    '/%761/models/production',
    '/%761/predictions?pair=BTC/USD',
  ];

  test('every spelling, over a raw socket: routed with the key → 401 without it; never data without a key', async () => {
    const app = await make({ apiKeys: [KEY] });
    const port = await listen(app);
    try {
      const routed: string[] = [];
      for (const target of TARGETS) {
        // With the key, the answer says whether the router took this spelling to a route (anything but ROUTE_NOT_FOUND / INVALID_URL).
        const withKey = await rawRequest(port, 'GET', target, { 'x-api-key': KEY });
        const code = withKey.status >= 400 ? (JSON.parse(withKey.body) as { error: { code: string } }).error.code : null;
        const isRouted = code !== 'ROUTE_NOT_FOUND' && code !== 'INVALID_URL';
        if (isRouted) routed.push(`GET ${target}`);
        for (const method of ['GET', 'HEAD']) {
          const without = await rawRequest(port, method, target);
          const what = `${method} ${target} (with the key: ${withKey.status} ${code ?? ''})`;
          assert.notEqual(without.status, 200, `${what}: answered without a key: ${without.body.slice(0, 200)}`);
          assert.ok(without.status >= 400 && without.status < 500, `${what}: ${without.status}`);
          // Routed: the key decides (401). Not routed: nothing to protect, but never a 200.
          if (isRouted) assert.equal(without.status, 401, `${what}: a route answered ${without.status} without a key`);
          if (method === 'GET') {
            assertErrorShape(without, what);
            assert.doesNotMatch(without.body, /made_at_ms|BTC\/USD"|latest_made_at_ms/, `${what}: data leaked`);
          }
        }
      }
      // The attack spellings of the issue are among those the router decodes to a route.
      for (const t of ['GET /%761/predictions/latest?pair=BTC/USD', 'GET /v%31/pairs', 'GET /%761/monitoring', 'GET http://x/v1/pairs']) {
        assert.ok(routed.includes(t), `${t} is routed (else this test proves nothing about it); routed: ${routed.join(', ')}`);
      }
    } finally {
      await app.close();
    }
  });

  test('the same spellings through inject; ops routes and the page stay open, /metrics needs the key', async () => {
    const app = await make({ apiKeys: [KEY] });
    try {
      for (const url of ['/%761/predictions/latest?pair=BTC/USD', '/v%31/pairs', '/%761/monitoring', '/v1/pairs']) {
        const r = await app.inject(url);
        assert.equal(r.statusCode, 401, `${url}: ${r.body}`);
        assert.equal(json(r).error.code, 'UNAUTHORIZED');
      }
      for (const open of ['/healthz', '/readyz', '/', '/dashboard.js', '/docs/json']) assert.equal((await app.inject(open)).statusCode, 200, open);
      // /metrics shows the Node version, model versions and accuracy: not for the public when keys are configured.
      const m = await app.inject('/metrics');
      assert.equal(m.statusCode, 401, '/metrics without a key');
      assertErrorShape(m, '/metrics');
      assert.equal((await app.inject({ url: '/metrics', headers: { 'x-api-key': KEY } })).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  test('the websocket upgrade: other spellings of /v1/ws are refused, the absolute form too', async () => {
    const app = await make({ apiKeys: [KEY] });
    const port = await listen(app);
    const upgrade = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
    try {
      for (const target of ['/%761/ws', '/v1/%77s', 'http://x/v1/ws', '//v1/ws', '/v1/../v1/ws', '/V1/WS', '/v1/ws/']) {
        const r = await new Promise<number>((resolve, reject) => {
          rawRequest(port, 'GET', target, { ...upgrade, connection: 'Upgrade' }).then((x: RawResponse) => resolve(x.status), reject);
        });
        assert.notEqual(r, 101, `${target} upgraded without a key`);
      }
    } finally {
      await app.close();
    }
  });
});

describe('rate limit: an unverified key never picks the bucket; failed authentication is limited too', () => {
  const burst = async (app: FastifyInstance, n: number, req: (i: number) => { headers?: Record<string, string>; remoteAddress?: string }) => {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) statuses.push((await app.inject({ url: '/v1/pairs', ...req(i) })).statusCode);
    return statuses;
  };

  test('no keys configured: 10 random x-api-key values at a limit of 5 share the client address (5 × 200, then 429)', async () => {
    const app = await make({ rateLimit: { max: 5, timeWindowMs: 60_000 } });
    try {
      const s = await burst(app, 10, (i) => ({ headers: { 'x-api-key': `random-key-${i}-${Math.random()}` } }));
      assert.deepEqual(s, [200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
    } finally {
      await app.close();
    }
  });

  test('keys configured: wrong keys are answered 429 once the address is over its budget (no guessing at full speed); a verified key keeps its own budget', async () => {
    const app = await make({ apiKeys: [KEY], rateLimit: { max: 5, timeWindowMs: 60_000 } });
    try {
      const s = await burst(app, 10, (i) => ({ headers: { 'x-api-key': `guess-${i}-abcdefgh` } }));
      assert.deepEqual(s, [401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
      const r = await app.inject({ url: '/v1/pairs' });
      assert.equal(r.statusCode, 429, 'no key at all: the same address bucket');
      assertErrorShape(r, '429');
      assert.equal((await app.inject({ url: '/v1/pairs', headers: { 'x-api-key': KEY } })).statusCode, 200, 'the verified key has its own budget');
    } finally {
      await app.close();
    }
  });

  test('X-Forwarded-For is ignored unless a trusted proxy is configured; behind a trusted proxy each client has its own bucket', async () => {
    let app = await make({ rateLimit: { max: 3, timeWindowMs: 60_000 } });
    try {
      const s = await burst(app, 6, (i) => ({ headers: { 'x-forwarded-for': `203.0.113.${i}` } }));
      assert.deepEqual(s, [200, 200, 200, 429, 429, 429], 'a spoofed X-Forwarded-For does not give a new bucket');
    } finally {
      await app.close();
    }
    app = await make({ rateLimit: { max: 3, timeWindowMs: 60_000 }, trustProxy: ['10.0.0.0/8'] });
    try {
      // From the trusted proxy: one bucket per forwarded client.
      const s = await burst(app, 6, (i) => ({ remoteAddress: '10.1.2.3', headers: { 'x-forwarded-for': `203.0.113.${i}` } }));
      assert.deepEqual(s, [200, 200, 200, 200, 200, 200]);
      const same = await burst(app, 4, () => ({ remoteAddress: '10.1.2.3', headers: { 'x-forwarded-for': '198.51.100.7' } }));
      assert.deepEqual(same, [200, 200, 200, 429]);
      // From an address that is not the proxy: the header is not believed.
      const direct = await burst(app, 4, (i) => ({ remoteAddress: '192.0.2.9', headers: { 'x-forwarded-for': `198.51.100.${i + 20}` } }));
      assert.deepEqual(direct, [200, 200, 200, 429]);
    } finally {
      await app.close();
    }
  });
});

describe('websocket upgrades: the same budget per client, then the key', () => {
  const status = (url: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => {});
    });

  test('wrong ?api_key= guesses are answered 429 once the address is over its budget; a verified key keeps its own', async () => {
    const app = await make({ apiKeys: [KEY], rateLimit: { max: 3, timeWindowMs: 60_000 } });
    const port = await listen(app);
    try {
      const base = `ws://127.0.0.1:${port}/v1/ws`;
      const got: number[] = [];
      for (let i = 0; i < 6; i++) got.push(await status(`${base}?api_key=guess-${i}-abcdefgh`));
      assert.deepEqual(got, [401, 401, 401, 429, 429, 429]);
      assert.equal(await status(base, { 'x-api-key': KEY }), 101);
      assert.equal(await status(`${base}?api_key=${KEY}`), 101);
    } finally {
      await app.close();
    }
  });

  test('without keys, upgrades share the client address budget; X-Forwarded-For counts only from a trusted proxy', async () => {
    const app = await make({ rateLimit: { max: 2, timeWindowMs: 60_000 } });
    const port = await listen(app);
    try {
      const base = `ws://127.0.0.1:${port}/v1/ws`;
      const got: number[] = [];
      for (let i = 0; i < 4; i++) got.push(await status(base, { 'x-forwarded-for': `203.0.113.${i}`, 'x-api-key': `random-${i}-abcdefgh` }));
      assert.deepEqual(got, [101, 101, 429, 429]);
    } finally {
      await app.close();
    }
    const trusted = await make({ rateLimit: { max: 2, timeWindowMs: 60_000 }, trustProxy: ['127.0.0.1'] });
    const tport = await listen(trusted);
    try {
      const base = `ws://127.0.0.1:${tport}/v1/ws`;
      const got: number[] = [];
      for (let i = 0; i < 4; i++) got.push(await status(base, { 'x-forwarded-for': `203.0.113.${i}` }));
      assert.deepEqual(got, [101, 101, 101, 101], 'one budget per forwarded client behind the trusted proxy');
      for (let i = 0; i < 3; i++) got.push(await status(base, { 'x-forwarded-for': '198.51.100.9' }));
      assert.deepEqual(got.slice(4), [101, 101, 429]);
    } finally {
      await trusted.close();
    }
  });
});

describe('paging cursors cannot be forged or tampered with, and one page reads a bounded number of rows', () => {
  function spy(rows: Prediction[]): PredictionHistory & { calls: HistoryRange[] } {
    const calls: HistoryRange[] = [];
    return {
      calls,
      newestFirst: async (pair, q) => {
        calls.push(q);
        return rows
          .filter((p) => p.pair === pair && (q.to_ms === undefined || p.made_at_ms <= q.to_ms) && (q.from_ms === undefined || p.made_at_ms >= q.from_ms))
          .sort((a, b) => b.made_at_ms - a.made_at_ms)
          .slice(0, q.limit);
      },
    };
  }
  /** The unkeyed digest the cursor carried before: FNV-1a of the query, anyone can compute it. */
  const fnv = (parts: unknown[]) => {
    let h = 0x811c9dc5;
    const s = JSON.stringify(parts.map((p) => p ?? null));
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h.toString(36);
  };
  const rows = predictionsFrom(realCandles('BTC/USD', 60));
  const MAX_ROWS_PER_PAGE = 2 * 1000 + 1;

  test('a hand-made cursor with skip=100000 is INVALID_CURSOR and never reaches the store', async () => {
    const history = spy(rows);
    const app = await make({ history });
    try {
      const t = rows[rows.length - 1]!.made_at_ms;
      for (const forged of [
        Buffer.from(JSON.stringify([t, 100_000, fnv(['BTC/USD', undefined, undefined, undefined])])).toString('base64url'),
        Buffer.from(JSON.stringify([t, 99_999, fnv(['BTC/USD', null, null, null])])).toString('base64url'),
        Buffer.from(JSON.stringify({ t_ms: t, skip: 100_000 })).toString('base64url'),
      ]) {
        const r = await app.inject(`/v1/predictions?pair=BTC/USD&cursor=${forged}`);
        assert.equal(r.statusCode, 400, r.body);
        assert.equal(json(r).error.code, 'INVALID_CURSOR');
      }
      assert.deepEqual(history.calls, [], 'no forged cursor reached the store');
    } finally {
      await app.close();
    }
  });

  test('a real cursor with its time, skip or query changed is INVALID_CURSOR; unchanged it pages on', async () => {
    const history = spy(rows);
    const app = await make({ history });
    try {
      const first = json(await app.inject('/v1/predictions?pair=BTC/USD&limit=5'));
      const cursor = first.next_cursor as string;
      assert.equal(typeof cursor, 'string');
      const next = await app.inject(`/v1/predictions?pair=BTC/USD&limit=5&cursor=${cursor}`);
      assert.equal(next.statusCode, 200, next.body);
      assert.deepEqual(json(next).items.map((p: Prediction) => p.made_at_ms), rows.map((p) => p.made_at_ms).sort((a, b) => b - a).slice(5, 10));
      const calls = history.calls.length;
      // Tamper with every character position of the cursor in turn (a different valid character).
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      let rejected = 0;
      for (let i = 0; i < cursor.length; i++) {
        const c = cursor[i] as string;
        if (!alphabet.includes(c)) continue;
        const other = alphabet[(alphabet.indexOf(c) + 7) % alphabet.length] as string;
        const tampered = cursor.slice(0, i) + other + cursor.slice(i + 1);
        const r = await app.inject(`/v1/predictions?pair=BTC/USD&limit=5&cursor=${tampered}`);
        assert.equal(r.statusCode, 400, `position ${i}: ${tampered} → ${r.body}`);
        rejected++;
      }
      assert.ok(rejected > 10);
      // The payload re-encoded with a larger skip, the signature kept.
      const parts = cursor.split('.');
      if (parts.length === 2) {
        const payload = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString()) as unknown[];
        payload[1] = 100_000;
        const t2 = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${parts[1]}`;
        const r = await app.inject(`/v1/predictions?pair=BTC/USD&limit=5&cursor=${t2}`);
        assert.equal(r.statusCode, 400);
        assert.equal(json(r).error.code, 'INVALID_CURSOR');
      }
      assert.equal(history.calls.length, calls, 'no tampered cursor reached the store');
      // Another query's cursor.
      const eth = await app.inject(`/v1/predictions?pair=BTC/USD&from=0&limit=5&cursor=${cursor}`);
      assert.equal(json(eth).error.code, 'INVALID_CURSOR');
      for (const c of history.calls) assert.ok(c.limit <= MAX_ROWS_PER_PAGE, `one page read ${c.limit} rows`);
    } finally {
      await app.close();
    }
  });

  test('a cursor signed by one API process is accepted by another with the same configured secret, not by one without', async () => {
    const secret = 'a-cursor-secret-of-at-least-32-characters';
    const a = await make({ history: spy(rows), cursorSecret: secret });
    const b = await make({ history: spy(rows), cursorSecret: secret });
    const c = await make({ history: spy(rows) });
    try {
      const cursor = json(await a.inject('/v1/predictions?pair=BTC/USD&limit=5')).next_cursor as string;
      assert.equal((await b.inject(`/v1/predictions?pair=BTC/USD&limit=5&cursor=${cursor}`)).statusCode, 200);
      const r = await c.inject(`/v1/predictions?pair=BTC/USD&limit=5&cursor=${cursor}`);
      assert.equal(r.statusCode, 400);
      assert.equal(json(r).error.code, 'INVALID_CURSOR');
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

describe('exposure and hygiene', () => {
  test('security headers with a Content-Security-Policy on the page, the API and the docs', async () => {
    const app = await make();
    try {
      for (const url of ['/', '/v1/pairs', '/docs/json', '/v1/nope']) {
        const r = await app.inject(url);
        const csp = String(r.headers['content-security-policy'] ?? '');
        assert.match(csp, /default-src 'self'/, `${url}: CSP ${csp}`);
        assert.match(csp, /script-src 'self'/, `${url}: CSP ${csp}`);
        assert.doesNotMatch(csp, /script-src[^;]*'unsafe-(inline|eval)'/, `${url}: scripts must not be inline`);
        assert.doesNotMatch(csp, /'unsafe-(inline|eval)'/, `${url}: nothing inline but by hash`);
        assert.match(csp, /style-src 'self'( 'sha256-[A-Za-z0-9+/]+=*')+/, `${url}: the charts' and Swagger UI's fixed <style> texts by hash`);
        assert.match(csp, /frame-ancestors 'none'/, url);
        assert.match(csp, /object-src 'none'/, url);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', url);
        assert.ok(r.headers['referrer-policy'], url);
        assert.ok(r.headers['x-frame-options'], url);
      }
    } finally {
      await app.close();
    }
  });

  test('CORS is off by default: no allow-origin header, a preflight is not granted', async () => {
    const app = await make();
    try {
      const r = await app.inject({ url: '/v1/pairs', headers: { origin: 'https://evil.example' } });
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      const pre = await app.inject({
        method: 'OPTIONS',
        url: '/v1/pairs',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(pre.headers['access-control-allow-origin'], undefined);
      assert.equal(pre.statusCode, 405);
    } finally {
      await app.close();
    }
  });

  test('CORS with allowed origins: the preflight is answered (also when keys are required), other origins get nothing', async () => {
    const app = await make({ corsOrigins: ['https://app.example.com'], apiKeys: [KEY] });
    try {
      const pre = await app.inject({
        method: 'OPTIONS',
        url: '/v1/predictions/latest?pair=BTC/USD',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key' },
      });
      assert.equal(pre.statusCode, 204, pre.body);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.match(String(pre.headers['access-control-allow-methods']), /GET/);
      assert.match(String(pre.headers['access-control-allow-headers']).toLowerCase(), /x-api-key/);
      assert.match(String(pre.headers.vary ?? ''), /Origin/i);
      const get = await app.inject({ url: '/v1/pairs', headers: { origin: 'https://app.example.com', 'x-api-key': KEY } });
      assert.equal(get.statusCode, 200);
      assert.equal(get.headers['access-control-allow-origin'], 'https://app.example.com');
      const evil = await app.inject({ url: '/v1/pairs', headers: { origin: 'https://evil.example', 'x-api-key': KEY } });
      assert.equal(evil.headers['access-control-allow-origin'], undefined);
      const evilPre = await app.inject({ method: 'OPTIONS', url: '/v1/pairs', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
      assert.equal(evilPre.headers['access-control-allow-origin'], undefined);
    } finally {
      await app.close();
    }
  });

  test('an unsupported method on a known path is 405 with Allow; an unknown path stays 404', async () => {
    const app = await make();
    try {
      for (const [method, url] of [
        ['DELETE', '/v1/pairs'],
        ['POST', '/v1/predictions?pair=BTC/USD'],
        ['PUT', '/v1/predictions/latest?pair=BTC/USD'],
        ['PATCH', '/healthz'],
        ['POST', '/'],
      ] as const) {
        const r = await app.inject({ method, url });
        assert.equal(r.statusCode, 405, `${method} ${url}: ${r.body}`);
        assert.equal(assertErrorShape(r, `${method} ${url}`), 'METHOD_NOT_ALLOWED');
        assert.deepEqual(String(r.headers.allow).split(/,\s*/).sort(), ['GET', 'HEAD'], `${method} ${url}`);
      }
      const r = await app.inject({ method: 'DELETE', url: '/v1/nope' });
      assert.equal(r.statusCode, 404);
      assert.equal(assertErrorShape(r, 'DELETE /v1/nope'), 'ROUTE_NOT_FOUND');
    } finally {
      await app.close();
    }
  });

  test('every error has the one shape: 404, 405, 413, 431, a bad URL, the docs\' static 403', async () => {
    const app = await make();
    const port = await listen(app);
    try {
      const cases: [string, Promise<RawResponse>, number, string][] = [
        ['404', rawRequest(port, 'GET', '/v1/nope'), 404, 'ROUTE_NOT_FOUND'],
        ['405', rawRequest(port, 'DELETE', '/v1/pairs'), 405, 'METHOD_NOT_ALLOWED'],
        ['413', rawRequest(port, 'POST', '/v1/nope', { 'content-type': 'application/json' }, `{"a":"${'x'.repeat(1_100_000)}"}`), 413, 'PAYLOAD_TOO_LARGE'],
        ['431', rawRequest(port, 'GET', '/v1/pairs', { 'x-big': 'a'.repeat(20_000) }), 431, 'HEADERS_TOO_LARGE'],
        ['bad URL', rawRequest(port, 'GET', '/v1/%ZZ'), 400, 'INVALID_URL'],
        ['bad URL in the query', rawRequest(port, 'GET', '/v1/predictions/latest?pair=%ZZ'), 400, 'INVALID_PARAMETER'],
        ['docs 403', rawRequest(port, 'GET', '/docs/static/%2e%2e/x'), 403, 'FORBIDDEN'],
      ];
      for (const [what, p, status, code] of cases) {
        const r = await p;
        if (what === 'bad URL in the query' && r.status === 400) {
          assertErrorShape(r, what);
          continue;
        }
        assert.equal(r.status, status, `${what}: ${r.status} ${r.body.slice(0, 300)}`);
        assert.match(String(r.headers['content-type']), /application\/json/, what);
        assert.equal(assertErrorShape(r, what), code, what);
      }
    } finally {
      await app.close();
    }
  });
});
