/**
 * The API server entry: builds the fastify app (api-plugin.ts), listens, and
 * shuts down gracefully (websocket clients get close 1001, in-flight requests
 * finish, then the port closes).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApi, type ApiDeps } from './api-plugin.ts';

export interface ListenOptions {
  host: string;
  /** 0 = any free port (see `port` on the result). */
  port: number;
}

export interface ApiServer {
  app: FastifyInstance;
  port: number;
  /** Base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  /** Graceful stop (idempotent). */
  close(): Promise<void>;
}

export async function startApiServer(deps: ApiDeps, listen: ListenOptions): Promise<ApiServer> {
  const app = await buildApi(deps);
  await app.listen({ host: listen.host, port: listen.port });
  const port = (app.server.address() as AddressInfo).port;
  const shown = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
  let closing: Promise<void> | null = null;
  return {
    app,
    port,
    url,
    close: () => {
      closing ??= (async () => {
        await app.close();
      })();
      return closing;
    },
  };
}
