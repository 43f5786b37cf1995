/**
 * The operations endpoint of every process (node:http, no framework):
 *   GET /metrics  Prometheus text from prom-client's default register
 *   GET /healthz  200 while the process is alive (event loop turning)
 *   GET /readyz   200 when every readiness check passes (bus connected,
 *                 services started), else 503 with the failing checks
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { register } from './metrics.ts';

export type ReadinessCheck = () => boolean;

export interface OpsServerOptions {
  host: string;
  /** 0 = any free port (see `port` on the result). */
  port: number;
  logger: Logger;
  /** Named checks for /readyz; all must return true. */
  readiness: Record<string, ReadinessCheck>;
}

export interface OpsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const log = opts.logger.child({ component: 'ops-http' });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
    if (path === '/healthz') return json(200, { status: 'ok', uptime_s: Math.round(process.uptime()) });
    if (path === '/readyz') {
      const checks: Record<string, boolean> = {};
      for (const [name, check] of Object.entries(opts.readiness)) {
        try {
          checks[name] = check() === true;
        } catch {
          checks[name] = false;
        }
      }
      const ready = Object.values(checks).every(Boolean);
      return json(ready ? 200 : 503, { ready, checks });
    }
    if (path === '/metrics') {
      register
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': register.contentType });
          res.end(text);
        })
        .catch((err: unknown) => {
          log.error({ err }, 'metrics collection failed');
          json(500, { error: 'metrics collection failed' });
        });
      return;
    }
    json(404, { error: 'not found', endpoints: ['/metrics', '/healthz', '/readyz'] });
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  log.info({ url }, 'ops endpoint listening (/metrics /healthz /readyz)');
  return {
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
