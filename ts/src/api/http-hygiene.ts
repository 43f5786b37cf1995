/**
 * The HTTP hygiene of the API: security headers with a Content-Security-Policy
 * the dashboard and /docs satisfy (no inline script, nothing from other
 * origins), CORS for configured origins only (off by default), 405 with
 * `allow` for a known path asked with another method, and the API's one error
 * shape for the errors fastify and Node answer before any route runs (a bad
 * URL, headers over the limit, a client timeout).
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import { API_ERRORS, errorBody, type ApiErrorCode } from './api-error.ts';

/**
 * The Content-Security-Policy of every response. The dashboard loads its own
 * script, style sheet and the lightweight-charts bundle from this origin and
 * talks to /v1 over fetch and the websocket ('self' covers ws: and wss: of
 * the same host); Swagger UI at /docs loads its bundle from /docs/static and
 * draws a few icons from data: URLs. Inline <style> elements are allowed only
 * by the hash of their text (`styleHashes`).
 */
export const CSP_DIRECTIVES: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/**
 * CSP hash sources ('sha256-…') of the fixed <style> texts script bundles
 * insert: `createElement("style")` then `.innerText="…"` (lightweight-charts'
 * attribution logo), or React's `createElement("style",null,"…")` (the logo
 * SVG of Swagger UI at /docs).
 */
export function inlineStyleHashes(...scripts: string[]): string[] {
  const out = new Set<string>();
  const found = scripts.flatMap((script) => [
    ...script.matchAll(/createElement\("style"\),[\w$.]+\.(?:innerText|textContent)="((?:[^"\\]|\\.)*)"/g),
    ...script.matchAll(/createElement\("style",null,"((?:[^"\\]|\\.)*)"\)/g),
  ]);
  for (const m of found) {
    const text = JSON.parse(`"${m[1] as string}"`) as string;
    out.add(`'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`);
  }
  return [...out];
}

/** Security headers and CORS; register before the routes. */
export async function registerSecurityHeaders(app: FastifyInstance, o: { corsOrigins: readonly string[]; styleHashes?: readonly string[] }): Promise<void> {
  const directives = { ...CSP_DIRECTIVES, 'style-src': [...(CSP_DIRECTIVES['style-src'] ?? []), ...(o.styleHashes ?? [])] };
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives },
    // The API is often reached over plain HTTP (embedded mode, inside a cluster): TLS is the ingress's business.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
  if (o.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...o.corsOrigins],
      methods: ['GET', 'HEAD'],
      allowedHeaders: ['x-api-key', 'content-type'],
      exposedHeaders: ['retry-after'],
      maxAge: 600,
      strictPreflight: true,
    });
  }
}

/**
 * The methods each path is served with, collected as routes are added; the
 * not-found handler asks it to tell 405 from 404.
 */
export function routeMethods(app: FastifyInstance): (path: string) => string[] {
  const byUrl = new Map<string, Set<string>>();
  const prefixes = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (route.url === '*' || route.url.includes(':')) return;
    const wild = route.url.endsWith('*');
    const map = wild ? prefixes : byUrl;
    const key = wild ? route.url.slice(0, -1) : route.url;
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    for (const m of methods) set.add(m);
    if (set.has('GET')) set.add('HEAD');
  });
  return (path) => {
    let p = path;
    try {
      p = decodeURIComponent(path);
    } catch {
      // Not decodable: no route has it.
    }
    const found = new Set(byUrl.get(p) ?? []);
    for (const [prefix, ms] of prefixes) if (p.startsWith(prefix)) for (const m of ms) found.add(m);
    return [...found].sort();
  };
}

/** The path of a request target, origin form or absolute form. */
export function pathOf(url: string): string {
  const noQuery = url.split('?')[0] as string;
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(noQuery);
  return (abs ? noQuery.slice(abs[0].length) : noQuery) || '/';
}

/** Fastify's own client errors (status) → the API's codes; any other 4xx becomes 400 BAD_REQUEST. */
export function codeForStatus(status: number): { status: number; code: ApiErrorCode } {
  const byStatus: Partial<Record<number, ApiErrorCode>> = {
    403: 'FORBIDDEN',
    404: 'ROUTE_NOT_FOUND',
    405: 'METHOD_NOT_ALLOWED',
    408: 'REQUEST_TIMEOUT',
    413: 'PAYLOAD_TOO_LARGE',
    415: 'UNSUPPORTED_MEDIA_TYPE',
    431: 'HEADERS_TOO_LARGE',
    429: 'RATE_LIMITED',
  };
  const code = byStatus[status];
  return code ? { status, code } : { status: 400, code: 'BAD_REQUEST' };
}

/** fastify's `frameworkErrors`: errors met before routing (a URL that does not decode). */
export function frameworkErrors(err: Error & { code?: string }, _req: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_BAD_URL') {
    void reply.code(400).type('application/json; charset=utf-8').send(errorBody('INVALID_URL', 'the request target is not a valid URL: check its percent-encoding'));
    return;
  }
  void reply.code(400).type('application/json; charset=utf-8').send(errorBody('BAD_REQUEST', 'bad request'));
}

/** fastify's `clientErrorHandler`: what Node's HTTP parser refuses (headers too large, a timeout, garbage). */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ([431, 'HEADERS_TOO_LARGE', 'the request headers are over the size limit'] as const)
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ([408, 'REQUEST_TIMEOUT', 'the request was not received in time'] as const)
        : ([400, 'BAD_REQUEST', 'the request is not valid HTTP'] as const);
  if (API_ERRORS[code] !== status) throw new Error(`error code ${code} is not ${status}`);
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
