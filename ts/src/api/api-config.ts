/**
 * The API service's settings, read from the environment beside the process
 * Config (ts/src/config/config.ts; these belong in its schema: see the issue
 * note). One TypeBox schema gives the type and the validator.
 *
 *   TICKCAST_API_HOST             interface to listen on (default: TICKCAST_HTTP_HOST)
 *   TICKCAST_API_PORT             port of the API, websocket and dashboard (default 8000; 0 = any free port)
 *   TICKCAST_API_KEYS             comma-separated accepted API keys (production only; empty = open)
 *   TICKCAST_API_RATE_LIMIT       REST requests per minute per client (production only; default 600, 0 = off)
 *   TICKCAST_API_STALE_AFTER_MS   a latest prediction older than this is `stale` (default 180000)
 *
 * In the embedded mode API keys and rate limiting are off whatever is set.
 */
import { Type, type Static } from '@sinclair/typebox';
import { validate } from '../contracts/codec.ts';
import type { Config } from '../config/config.ts';

export const ApiSettings = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    apiKeys: Type.Array(Type.String({ minLength: 8, maxLength: 256 }), { maxItems: 1000 }),
    rateLimitPerMin: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    staleAfterMs: Type.Integer({ minimum: 1000, maximum: 86_400_000 }),
  },
  { additionalProperties: false },
);
export type ApiSettings = Static<typeof ApiSettings>;

const VARS: Record<keyof ApiSettings, { env: string; form: string }> = {
  host: { env: 'TICKCAST_API_HOST', form: 'an interface address, e.g. 0.0.0.0 or 127.0.0.1' },
  port: { env: 'TICKCAST_API_PORT', form: 'a TCP port from 0 to 65535' },
  apiKeys: { env: 'TICKCAST_API_KEYS', form: 'a comma-separated list of keys of 8 to 256 characters' },
  rateLimitPerMin: { env: 'TICKCAST_API_RATE_LIMIT', form: 'requests per minute per client, an integer (0 = off)' },
  staleAfterMs: { env: 'TICKCAST_API_STALE_AFTER_MS', form: 'milliseconds from 1000 to 86400000' },
};

const int = (v: string | undefined, dflt: number): number | string => {
  if (v === undefined || v.trim() === '') return dflt;
  return /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
};

/** Read and validate the API settings; throws an Error naming each bad variable and its expected form. */
export function loadApiSettings(config: Pick<Config, 'mode' | 'httpHost'>, env: NodeJS.ProcessEnv = process.env): ApiSettings {
  const embedded = config.mode === 'embedded';
  const raw = {
    host: env.TICKCAST_API_HOST?.trim() || config.httpHost,
    port: int(env.TICKCAST_API_PORT, 8000),
    apiKeys: embedded ? [] : (env.TICKCAST_API_KEYS ?? '').split(',').map((k) => k.trim()).filter((k) => k.length > 0),
    rateLimitPerMin: embedded ? 0 : int(env.TICKCAST_API_RATE_LIMIT, 600),
    staleAfterMs: int(env.TICKCAST_API_STALE_AFTER_MS, 180_000),
  };
  const v = validate(ApiSettings, raw);
  if (v.ok) return v.value;
  const key = (v.reason.match(/^schema: \/(\w+)/)?.[1] ?? 'port') as keyof ApiSettings;
  const spec = VARS[key] ?? VARS.port;
  throw new Error(`invalid configuration: ${spec.env}: expected ${spec.form} (${v.reason})`);
}
