/**
 * Secrets never reach a log line or the `tickcast config` output.
 * A value is secret when its name says so (…_KEY, …_TOKEN, …_PASSWORD, …_SECRET,
 * webhook URLs, credentials) — by name, so a new secret variable is covered
 * without anyone remembering to list it. URLs also lose embedded credentials.
 */

export const REDACTED = '[redacted]';

/** Names (env style or camelCase) whose values are secrets. */
const SECRET_NAME = /(key|token|password|passwd|secret|webhook|credential|authorization|cookie)/i;
/** Names that contain one of the words above but are not secrets. */
const NOT_SECRET = /^(key|keys|topic_?key|natural_?key|partition_?key)$/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET.test(name);
}

/** `http://user:pass@host/` → `http://user:[redacted]@host/`; other strings unchanged. */
export function redactUrlCredentials(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*)(:[^/@\s]*)?@/i, (_m, scheme: string, user: string, pass?: string) =>
    pass ? `${scheme}${user}:${REDACTED}@` : `${scheme}${user}@`,
  );
}

/**
 * A deep copy of `value` with secrets replaced by `[redacted]`: values under a
 * secret name, and credentials inside URL strings. Cycles are cut.
 */
export function redactSecrets<T>(value: T): T {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, name: string | undefined): unknown => {
    if (name !== undefined && isSecretName(name) && v !== undefined && v !== null && v !== '') return REDACTED;
    if (typeof v === 'string') return redactUrlCredentials(v);
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return '[cycle]';
    seen.add(v);
    if (Array.isArray(v)) return v.map((x) => walk(x, undefined));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
    return out;
  };
  return walk(value, undefined) as T;
}

/** Pino `redact.paths` for the secret names we use (pino needs explicit paths). */
export const PINO_REDACT_PATHS: string[] = (() => {
  const names = [
    'password',
    'apiKey',
    'api_key',
    'token',
    'secret',
    'authorization',
    'esPassword',
    'esApiKey',
    'alertWebhookUrl',
    'webhookUrl',
  ];
  const out: string[] = [];
  for (const n of names) out.push(n, `*.${n}`, `*.*.${n}`);
  out.push('headers.authorization', 'req.headers.authorization', 'req.headers.cookie');
  return out;
})();
