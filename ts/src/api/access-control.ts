/**
 * Who may call the API, and how often. Decided on the route that matched,
 * never on the raw URL: the router decodes `/%761/pairs` to `/v1/pairs` and
 * takes `http://x/v1/pairs` (absolute form) to the same route, so a check of
 * the URL's text would let those spellings through.
 *
 *  - API keys (when configured): every route needs `x-api-key: <key>` unless
 *    its config says `public: true` (ops probes, the dashboard page and its
 *    assets, /docs). New routes are protected by default. Unknown paths are
 *    404 for everyone.
 *  - Rate limit (when configured): per client, where the client is the
 *    verified API key, else the client address. An unverified key never picks
 *    the bucket (random keys would each get a fresh budget), and requests
 *    that fail authentication count against their address like any other, so
 *    keys cannot be guessed at full speed (429 after the budget).
 *  - The client address is the socket's peer, or, only when the peer is a
 *    configured trusted proxy (TICKCAST_API_TRUST_PROXY; fastify's
 *    `trustProxy`), the address it forwards in X-Forwarded-For.
 *  - Websocket upgrades (not fastify routes) follow the same rules through
 *    `upgradeGate`: the same budget per client, then the key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { ApiError } from './api-error.ts';

export interface RateLimitOptions {
  /** Requests per window per client. */
  max: number;
  timeWindowMs: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without an API key even when keys are configured. */
    public?: boolean;
  }
}

const sha = (s: string) => createHash('sha256').update(s).digest();

export interface ApiKeyVerifier {
  /** Keys are configured: routes that are not public need one. */
  readonly required: boolean;
  /** A short id of the key when it is one of the configured keys (compared in constant time), else null. */
  verify(given: string | undefined): string | null;
}

export function apiKeyVerifier(keys: readonly string[]): ApiKeyVerifier {
  const hashed = keys.filter((k) => k.length > 0).map(sha);
  return {
    required: hashed.length > 0,
    verify(given) {
      if (hashed.length === 0 || given === undefined || given.length === 0) return null;
      const h = sha(given);
      let ok = false;
      for (const k of hashed) ok = timingSafeEqual(k, h) || ok;
      return ok ? h.toString('hex').slice(0, 32) : null;
    },
  };
}

export interface AccessControlOptions {
  verifier: ApiKeyVerifier;
  rateLimit: RateLimitOptions | null;
  /** Route URL prefixes served to everyone (their routes are registered by other plugins, e.g. /docs). */
  publicPrefixes: readonly string[];
}

/** Register on the app before its routes (the hooks see each route as it is added). */
export async function registerAccessControl(app: FastifyInstance, o: AccessControlOptions): Promise<void> {
  const keyIds = new WeakMap<FastifyRequest, string | null>();
  const keyIdOf = (req: FastifyRequest): string | null => {
    let id = keyIds.get(req);
    if (id === undefined) {
      const given = req.headers['x-api-key'];
      id = o.verifier.verify(typeof given === 'string' ? given : undefined);
      keyIds.set(req, id);
    }
    return id;
  };

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const docs = o.publicPrefixes.some((p) => route.url === p || route.url.startsWith(`${p}/`));
    // A CORS preflight carries no credentials by design: it must be answered without a key.
    const preflight = methods.length === 1 && methods[0] === 'OPTIONS';
    if (docs || preflight) route.config = { ...(route.config ?? {}), public: true };
  });

  if (o.rateLimit) {
    const rl = o.rateLimit;
    await app.register(rateLimit, {
      global: true,
      max: rl.max,
      timeWindow: rl.timeWindowMs,
      // Bounded memory: least recently seen clients are forgotten first.
      cache: 10_000,
      keyGenerator: (req: FastifyRequest) => {
        const id = keyIdOf(req);
        return id !== null ? `key:${id}` : `ip:${req.ip}`;
      },
      errorResponseBuilder: (_req, ctx) =>
        new ApiError('RATE_LIMITED', `rate limit exceeded: at most ${ctx.max} requests per ${ctx.after === '' ? `${rl.timeWindowMs} ms` : ctx.after} per client`),
    });
  }

  if (o.verifier.required) {
    // After every onRequest hook (the rate limit is one), before the body and the parameters are looked at.
    app.addHook('preParsing', async (req, _reply, payload) => {
      if (req.is404 || req.routeOptions.config?.public === true) return payload;
      if (keyIdOf(req) === null) throw new ApiError('UNAUTHORIZED', 'missing or unknown API key: send it in the x-api-key header');
      return payload;
    });
  }
}

/** The client address of a raw request (websocket upgrades), by the same trusted-proxy rule as fastify's `req.ip`. */
export function clientAddressOf(trustProxy: readonly string[]): (req: IncomingMessage) => string {
  if (trustProxy.length === 0) return (req) => req.socket.remoteAddress ?? 'unknown';
  const trust = proxyAddr.compile([...trustProxy]);
  return (req) => proxyAddr(req, trust);
}

/** A fixed-window request counter per client; at most `maxClients` are remembered (the oldest window is forgotten first). */
export class WindowLimiter {
  private readonly counts = new Map<string, { n: number; resetAt: number }>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxClients = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count one request of `client`; false when it is over the window's budget. */
  hit(client: string): boolean {
    const t = this.now();
    let c = this.counts.get(client);
    if (!c || t >= c.resetAt) {
      this.counts.delete(client);
      if (this.counts.size >= this.maxClients) this.counts.delete(this.counts.keys().next().value as string);
      c = { n: 0, resetAt: t + this.windowMs };
      this.counts.set(client, c);
    }
    c.n++;
    return c.n <= this.max;
  }
}

/**
 * Whether a websocket upgrade may connect: the rate limit first (a verified
 * key's own budget, else the client address's), then the key. True, or the
 * HTTP status line to refuse with.
 */
export function upgradeGate(o: { verifier: ApiKeyVerifier; rateLimit: RateLimitOptions | null; trustProxy: readonly string[] }): (req: IncomingMessage) => true | string {
  const limiter = o.rateLimit ? new WindowLimiter(o.rateLimit.max, o.rateLimit.timeWindowMs) : null;
  const addressOf = clientAddressOf(o.trustProxy);
  return (req) => {
    if (!o.verifier.required && !limiter) return true;
    const header = req.headers['x-api-key'];
    const fromQuery = new URL(req.url ?? '/', 'http://x').searchParams.get('api_key') ?? undefined;
    const id = o.verifier.verify(typeof header === 'string' ? header : fromQuery);
    if (limiter && !limiter.hit(id !== null ? `key:${id}` : `ip:${addressOf(req)}`)) return '429 Too Many Requests';
    if (o.verifier.required && id === null) return '401 Unauthorized';
    return true;
  };
}
