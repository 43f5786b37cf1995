/**
 * The API service's settings, taken from the one validated Config
 * (ts/src/config/config.ts holds the variables, their forms and defaults:
 * TICKCAST_API_HOST, _PORT, _KEYS, _RATE_LIMIT, _STALE_AFTER_MS,
 * _TRUST_PROXY, _CORS_ORIGINS, _CURSOR_SECRET). This file only applies the
 * rules between them:
 *  - the API listens on TICKCAST_API_HOST, else TICKCAST_HTTP_HOST;
 *  - in the embedded mode API keys and rate limiting are off whatever is set
 *    (one process on one machine, the dashboard opened by its owner).
 */
import type { Config } from '../config/config.ts';

export interface ApiSettings {
  host: string;
  port: number;
  apiKeys: string[];
  /** REST requests per minute per client; 0 = off. */
  rateLimitPerMin: number;
  staleAfterMs: number;
  trustProxy: string[];
  corsOrigins: string[];
  cursorSecret: string | null;
}

export function apiSettingsOf(config: Config): ApiSettings {
  const embedded = config.mode === 'embedded';
  return {
    host: config.apiHost ?? config.httpHost,
    port: config.apiPort,
    apiKeys: embedded ? [] : [...config.apiKeys],
    rateLimitPerMin: embedded ? 0 : config.apiRateLimit,
    staleAfterMs: config.apiStaleAfterMs,
    trustProxy: [...config.apiTrustProxy],
    corsOrigins: [...config.apiCorsOrigins],
    cursorSecret: config.apiCursorSecret ?? null,
  };
}
