/**
 * Configuration: ONE TypeBox schema gives the `Config` type and its validator.
 * Each property names its environment variable (`env`) and the expected form
 * (`form`), so an error message always says which variable is wrong and what
 * it should look like. Values come from the environment, optionally over a JSON
 * file (TICKCAST_CONFIG=<path.json>, keys = the same variable names); the
 * environment wins. An empty variable counts as unset.
 */
import { readFileSync } from 'node:fs';
import { Type, Kind, type Static, type TSchema } from '../contracts/typebox.ts';
import { validatorOf } from '../contracts/codec.ts';
import { REDACTED, isSecretName, redactUrlCredentials } from './redact.ts';

interface Meta {
  /** The environment variable (and config-file key). */
  env: string;
  /** The expected form, in words, for error messages. */
  form: string;
  /** Never printed or logged. */
  secret?: boolean;
}
const m = (meta: Meta) => meta;

export const ConfigSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('embedded'), Type.Literal('production')], {
      default: 'embedded',
      ...m({ env: 'TICKCAST_MODE', form: 'embedded or production' }),
    }),
    dataDir: Type.String({ minLength: 1, default: './.tickcast', ...m({ env: 'TICKCAST_DATA_DIR', form: 'a folder path' }) }),
    /** Default follows the mode: memory (embedded), kafka (production). */
    bus: Type.Union([Type.Literal('memory'), Type.Literal('kafka')], {
      ...m({ env: 'TICKCAST_BUS', form: 'memory or kafka (default: memory when embedded, kafka in production)' }),
    }),
    /** Default follows the mode: sqlite (embedded), elasticsearch (production). */
    store: Type.Union([Type.Literal('sqlite'), Type.Literal('elasticsearch')], {
      ...m({ env: 'TICKCAST_STORE', form: 'sqlite or elasticsearch (default: sqlite when embedded, elasticsearch in production)' }),
    }),
    kafkaBrokers: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._\\-\\[\\]:]+:[0-9]{1,5}$' }), {
      default: [],
      ...m({ env: 'TICKCAST_KAFKA_BROKERS', form: 'a comma-separated list of host:port, e.g. kafka-0:9092,kafka-1:9092' }),
    }),
    kafkaClientId: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: '^[A-Za-z0-9._-]+$',
      default: 'tickcast',
      ...m({ env: 'TICKCAST_KAFKA_CLIENT_ID', form: 'letters, digits, dot, underscore or dash' }),
    }),
    kafkaPartitions: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 3,
      ...m({ env: 'TICKCAST_KAFKA_PARTITIONS', form: 'an integer from 1 to 1000' }),
    }),
    kafkaReplicationFactor: Type.Integer({
      minimum: -1,
      maximum: 32,
      default: -1,
      ...m({ env: 'TICKCAST_KAFKA_REPLICATION_FACTOR', form: 'an integer from 1 to 32, or -1 for the broker default' }),
    }),
    /**
     * How long the broker waits for a consumer's heartbeat before giving its
     * partitions to the others: the longest pause after a consumer dies
     * without leaving its group (SIGKILL, a lost node). The broker accepts
     * 6 s to 5 min by default.
     */
    kafkaSessionTimeoutMs: Type.Integer({
      minimum: 6000,
      maximum: 300_000,
      default: 30_000,
      ...m({ env: 'TICKCAST_KAFKA_SESSION_TIMEOUT_MS', form: 'milliseconds from 6000 to 300000 (a dead consumer\'s partitions move after this)' }),
    }),
    /** Prepended to every topic name (tests isolate themselves with it). */
    kafkaTopicPrefix: Type.String({
      maxLength: 100,
      pattern: '^[A-Za-z0-9._-]*$',
      default: '',
      ...m({ env: 'TICKCAST_KAFKA_TOPIC_PREFIX', form: 'letters, digits, dot, underscore or dash (may be empty)' }),
    }),
    esUrl: Type.Optional(
      Type.String({ pattern: '^https?://[^\\s]+$', ...m({ env: 'TICKCAST_ES_URL', form: 'an http(s) URL, e.g. http://127.0.0.1:9200' }) }),
    ),
    esUsername: Type.Optional(Type.String({ minLength: 1, ...m({ env: 'TICKCAST_ES_USERNAME', form: 'a user name' }) })),
    esPassword: Type.Optional(
      Type.String({ minLength: 1, ...m({ env: 'TICKCAST_ES_PASSWORD', form: 'a password', secret: true }) }),
    ),
    esApiKey: Type.Optional(
      Type.String({ minLength: 1, ...m({ env: 'TICKCAST_ES_API_KEY', form: 'an Elasticsearch API key (base64)', secret: true }) }),
    ),
    esIndexPrefix: Type.String({
      maxLength: 100,
      pattern: '^[a-z0-9._-]*$',
      default: 'tickcast-',
      ...m({ env: 'TICKCAST_ES_INDEX_PREFIX', form: 'lower-case letters, digits, dot, underscore or dash' }),
    }),
    pairs: Type.Array(Type.String({ pattern: '^[A-Z0-9]+/[A-Z0-9]+$', minLength: 3, maxLength: 32 }), {
      minItems: 1,
      uniqueItems: true,
      default: ['BTC/USD', 'ETH/USD'],
      ...m({ env: 'TICKCAST_PAIRS', form: 'a comma-separated list of distinct BASE/QUOTE pairs in capitals, e.g. BTC/USD,ETH/USD' }),
    }),
    httpHost: Type.String({
      minLength: 1,
      default: '0.0.0.0',
      ...m({ env: 'TICKCAST_HTTP_HOST', form: 'an interface address, e.g. 0.0.0.0 or 127.0.0.1' }),
    }),
    httpPort: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      ...m({ env: 'TICKCAST_HTTP_PORT', form: 'a TCP port from 0 to 65535 (0 = any free port)' }),
    }),
    /** The REST API, websocket and dashboard (the `api` service). */
    apiHost: Type.Optional(
      Type.String({ minLength: 1, ...m({ env: 'TICKCAST_API_HOST', form: 'an interface address, e.g. 0.0.0.0 or 127.0.0.1 (default: TICKCAST_HTTP_HOST)' }) }),
    ),
    apiPort: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8000,
      ...m({ env: 'TICKCAST_API_PORT', form: 'a TCP port from 0 to 65535 (0 = any free port)' }),
    }),
    /** Production mode only (the embedded mode serves everyone on this machine). */
    apiKeys: Type.Array(Type.String({ minLength: 8, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' }), {
      maxItems: 1000,
      default: [],
      ...m({ env: 'TICKCAST_API_KEYS', form: 'a comma-separated list of keys of 8 to 256 printable characters, no spaces (production mode only; empty = no key needed)', secret: true }),
    }),
    apiRateLimit: Type.Integer({
      minimum: 0,
      maximum: 1_000_000,
      default: 600,
      ...m({ env: 'TICKCAST_API_RATE_LIMIT', form: 'REST requests per minute per client, an integer from 0 to 1000000 (production mode only; 0 = off)' }),
    }),
    apiStaleAfterMs: Type.Integer({
      minimum: 1000,
      maximum: 86_400_000,
      default: 180_000,
      ...m({ env: 'TICKCAST_API_STALE_AFTER_MS', form: 'milliseconds from 1000 to 86400000 (a latest prediction older than this is flagged stale)' }),
    }),
    /** Proxies whose X-Forwarded-For is believed for the client address (rate limit); none by default. */
    apiTrustProxy: Type.Array(Type.String({ maxLength: 64, pattern: '^(loopback|linklocal|uniquelocal|[0-9A-Fa-f:.]+(/[0-9]{1,3})?)$' }), {
      maxItems: 100,
      default: [],
      ...m({ env: 'TICKCAST_API_TRUST_PROXY', form: 'a comma-separated list of proxy addresses or CIDR ranges (or loopback, linklocal, uniquelocal) whose X-Forwarded-For is believed, e.g. 10.0.0.0/8 (default: none, the header is ignored)' }),
    }),
    apiCorsOrigins: Type.Array(Type.String({ maxLength: 256, pattern: '^https?://[^\\s/,*]+$' }), {
      maxItems: 100,
      default: [],
      ...m({ env: 'TICKCAST_API_CORS_ORIGINS', form: 'a comma-separated list of origins allowed to call the API from a browser page, e.g. https://app.example.com (default: none, CORS off)' }),
    }),
    apiCursorSecret: Type.Optional(
      Type.String({
        minLength: 32,
        maxLength: 1024,
        ...m({ env: 'TICKCAST_API_CURSOR_SECRET', form: 'a secret of at least 32 characters that signs paging cursors, the same on every API replica (default: a random one per process)', secret: true }),
      }),
    ),
    logLevel: Type.Union(
      [
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warn'),
        Type.Literal('info'),
        Type.Literal('debug'),
        Type.Literal('trace'),
        Type.Literal('silent'),
      ],
      {
      default: 'info',
        ...m({ env: 'TICKCAST_LOG_LEVEL', form: 'one of fatal, error, warn, info, debug, trace, silent' }),
      },
    ),
    /** How often consumer lag is sampled (Kafka: admin offsets). */
    lagIntervalMs: Type.Integer({
      minimum: 100,
      maximum: 3_600_000,
      default: 15_000,
      ...m({ env: 'TICKCAST_LAG_INTERVAL_MS', form: 'milliseconds from 100 to 3600000' }),
    }),
    /** Retries of a failing message handler before the message is dead-lettered. */
    handlerRetries: Type.Integer({
      minimum: 0,
      maximum: 20,
      default: 3,
      ...m({ env: 'TICKCAST_HANDLER_RETRIES', form: 'an integer from 0 to 20' }),
    }),
    /** Longest a graceful shutdown may take before the process exits anyway (code 1). */
    shutdownTimeoutMs: Type.Integer({
      minimum: 1000,
      maximum: 600_000,
      default: 30_000,
      ...m({ env: 'TICKCAST_SHUTDOWN_TIMEOUT_MS', form: 'milliseconds from 1000 to 600000' }),
    }),
    /** Where trades come from: auto = Kraken live when reachable, else the bundled real sample replayed. */
    ingestSource: Type.Union([Type.Literal('auto'), Type.Literal('kraken'), Type.Literal('binance'), Type.Literal('replay')], {
      default: 'auto',
      ...m({ env: 'TICKCAST_INGEST_SOURCE', form: 'auto, kraken, binance or replay' }),
    }),
    replayFiles: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      ...m({ env: 'TICKCAST_REPLAY_FILES', form: 'a comma-separated list of trade files (CSV, CSV.gz or Binance recordings); default: the bundled sample' }),
    }),
    replaySpeed: Type.String({
      pattern: '^(max|[0-9]+(\\.[0-9]+)?)$',
      default: '60',
      ...m({ env: 'TICKCAST_REPLAY_SPEED', form: 'max, or a factor of real time such as 1, 10 or 60' }),
    }),
    /** Order-book features (the `book` service): a recording replayed (embedded default), a live exchange book, or off (production default). */
    bookSource: Type.Union([Type.Literal('off'), Type.Literal('replay'), Type.Literal('kraken'), Type.Literal('binance')], {
      ...m({ env: 'TICKCAST_BOOK_SOURCE', form: 'off, replay, kraken or binance (default: replay when embedded, off in production)' }),
    }),
    bookReplayFile: Type.Optional(
      Type.String({ minLength: 1, ...m({ env: 'TICKCAST_BOOK_REPLAY_FILE', form: 'a `tickcast record` file (.jsonl.gz); default: the bundled Binance BTC/USDT recording (data/sample/book)' }) }),
    ),
    bookPairs: Type.Array(Type.String({ pattern: '^[A-Z0-9]+/[A-Z0-9]+$', minLength: 3, maxLength: 32 }), {
      default: [],
      uniqueItems: true,
      ...m({ env: 'TICKCAST_BOOK_PAIRS', form: 'a comma-separated list of BASE/QUOTE pairs, e.g. BTC/USDT (default: TICKCAST_PAIRS live, the recorded pairs on replay)' }),
    }),
    bookDepth: Type.Integer({
      minimum: 10,
      maximum: 1000,
      default: 10,
      ...m({ env: 'TICKCAST_BOOK_DEPTH', form: 'the Kraken book depth: 10, 25, 100, 500 or 1000' }),
    }),
    candleIntervalS: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 60,
      ...m({ env: 'TICKCAST_CANDLE_INTERVAL_S', form: 'seconds from 1 to 86400' }),
    }),
    candleGraceMs: Type.Integer({
      minimum: 0,
      maximum: 3_600_000,
      default: 5000,
      ...m({ env: 'TICKCAST_CANDLE_GRACE_MS', form: 'milliseconds from 0 to 3600000 (out-of-order tolerance)' }),
    }),
    features: Type.Array(Type.String({ pattern: '^[a-z0-9_.]+$' }), {
      default: [],
      ...m({ env: 'TICKCAST_FEATURES', form: 'a comma-separated list of feature names such as rsi_14,macd_12_26_9_hist (default: the built-in set)' }),
    }),
    krakenWsUrl: Type.Optional(Type.String({ pattern: '^wss?://[^\\s]+$', ...m({ env: 'TICKCAST_KRAKEN_WS_URL', form: 'a ws(s) URL (default wss://ws.kraken.com/v2)' }) })),
    krakenRestUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', ...m({ env: 'TICKCAST_KRAKEN_REST_URL', form: 'an http(s) URL (default https://api.kraken.com)' }) })),
    /** Kraken live source with many pairs (docs/scale-out.md: Kraken documents no limit; these are our defaults). */
    krakenSubscribeBatch: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 50,
      ...m({ env: 'TICKCAST_KRAKEN_SUBSCRIBE_BATCH', form: 'symbols per Kraken subscribe message, an integer from 1 to 1000' }),
    }),
    krakenPairsPerConnection: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 500,
      ...m({ env: 'TICKCAST_KRAKEN_PAIRS_PER_CONNECTION', form: 'pairs per Kraken WebSocket connection (more pairs open more connections), an integer from 1 to 10000' }),
    }),
    krakenSubscribeIntervalMs: Type.Integer({
      minimum: 0,
      maximum: 60_000,
      default: 200,
      ...m({ env: 'TICKCAST_KRAKEN_SUBSCRIBE_INTERVAL_MS', form: 'milliseconds from 0 to 60000 between two Kraken subscribe messages on one connection' }),
    }),
    llmBaseUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', ...m({ env: 'TICKCAST_LLM_BASE_URL', form: 'an OpenAI-compatible base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1' }) })),
    llmModel: Type.Optional(Type.String({ minLength: 1, ...m({ env: 'TICKCAST_LLM_MODEL', form: 'a model name, e.g. gpt-4o-mini (unset: the built-in lexicon scorer)' }) })),
    llmApiKey: Type.Optional(Type.String({ minLength: 1, ...m({ env: 'TICKCAST_LLM_API_KEY', form: 'the LLM provider API key', secret: true }) })),
    llmTimeoutMs: Type.Integer({
      minimum: 1000,
      maximum: 600_000,
      default: 30_000,
      ...m({ env: 'TICKCAST_LLM_TIMEOUT_MS', form: 'milliseconds from 1000 to 600000 per LLM request' }),
    }),
    llmPricePromptPerMTok: Type.Number({
      minimum: 0,
      maximum: 1_000_000,
      default: 0,
      ...m({ env: 'TICKCAST_LLM_PRICE_PROMPT_PER_MTOK', form: 'USD per million prompt tokens, a number >= 0 (the cost figure of `tickcast sentiment eval`)' }),
    }),
    llmPriceCompletionPerMTok: Type.Number({
      minimum: 0,
      maximum: 1_000_000,
      default: 0,
      ...m({ env: 'TICKCAST_LLM_PRICE_COMPLETION_PER_MTOK', form: 'USD per million completion tokens, a number >= 0 (the cost figure of `tickcast sentiment eval`)' }),
    }),
    cryptopanicToken: Type.Optional(Type.String({ minLength: 1, ...m({ env: 'TICKCAST_CRYPTOPANIC_TOKEN', form: 'a CryptoPanic API token', secret: true }) })),
    alertSlackUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', ...m({ env: 'TICKCAST_ALERT_SLACK_URL', form: 'a Slack incoming webhook URL', secret: true }) })),
    alertDiscordUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', ...m({ env: 'TICKCAST_ALERT_DISCORD_URL', form: 'a Discord webhook URL', secret: true }) })),
    dashboardUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', ...m({ env: 'TICKCAST_DASHBOARD_URL', form: 'the dashboard URL linked from alerts' }) })),
    kibanaUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', ...m({ env: 'TICKCAST_KIBANA_URL', form: 'a Kibana URL, e.g. http://127.0.0.1:5601' }) })),
    alertRulesFile: Type.Optional(Type.String({ minLength: 1, ...m({ env: 'TICKCAST_ALERT_RULES_FILE', form: 'a JSON file with a list of alert rules (default: built-in rules)' }) })),
    modelMaxAgeHours: Type.Integer({
      minimum: 0,
      maximum: 87_600,
      default: 168,
      ...m({ env: 'TICKCAST_MODEL_MAX_AGE_HOURS', form: 'hours from 0 to 87600: a production model with no successful training of its pair and target for longer is expired (alert model_expired); 0 = off' }),
    }),
    modelExpiredStopServing: Type.Boolean({
      default: false,
      ...m({ env: 'TICKCAST_MODEL_EXPIRED_STOP_SERVING', form: 'true or false: the predictor stops serving an expired production model (TICKCAST_MODEL_MAX_AGE_HOURS)' }),
    }),
    alertWebhookUrl: Type.Optional(
      Type.String({ pattern: '^https?://[^\\s]+$', ...m({ env: 'TICKCAST_ALERT_WEBHOOK_URL', form: 'an http(s) URL', secret: true }) }),
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/** A configuration that cannot start the process; `problems` name the variables. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Prop = TSchema & Partial<Meta>;
const props = ConfigSchema.properties as unknown as Record<keyof Config, Prop>;

/** config key → its variable name, e.g. kafkaPartitions → TICKCAST_KAFKA_PARTITIONS. */
export const ENV_NAMES: Readonly<Record<keyof Config, string>> = Object.fromEntries(
  Object.entries(props).map(([k, s]) => [k, s.env as string]),
) as Record<keyof Config, string>;

function isSecretKey(key: keyof Config): boolean {
  return props[key].secret === true || isSecretName(ENV_NAMES[key]);
}

/** Every variable of the schema, and whether it is a secret (for checks such as the Helm chart's coverage test). */
export const CONFIG_VARIABLES: readonly { key: keyof Config; env: string; secret: boolean }[] = (Object.keys(props) as (keyof Config)[]).map((key) => ({
  key,
  env: ENV_NAMES[key],
  secret: isSecretKey(key),
}));

/** The property schema without Optional, to see its kind. */
function kindOf(s: TSchema): string {
  return s[Kind] as string;
}

/** Convert one raw value (env text, or any JSON value from the file) toward the property's type. */
function convert(s: TSchema, raw: unknown): unknown {
  const kind = kindOf(s);
  if (typeof raw === 'string') {
    const t = raw.trim();
    if (kind === 'Integer' || kind === 'Number') return /^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t) ? Number(t) : raw;
    if (kind === 'Boolean') return t === 'true' || t === '1' ? true : t === 'false' || t === '0' ? false : raw;
    if (kind === 'Array') return t === '' ? [] : t.split(',').map((x) => x.trim());
    return t;
  }
  return raw;
}

export interface LoadOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** A JSON file of the same variable names; defaults to env.TICKCAST_CONFIG. */
  file?: string;
}

/**
 * Read, convert and validate the configuration. Throws ConfigError listing every
 * wrong or missing value by its variable name and expected form.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? nonEmpty(env.TICKCAST_CONFIG);
  const problems: string[] = [];
  const fromFile: Record<string, unknown> = {};
  if (file) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      Object.assign(fromFile, parsed);
    } catch (e) {
      problems.push(`TICKCAST_CONFIG=${file}: cannot read it as a JSON object of TICKCAST_* variables (${(e as Error).message})`);
    }
    const known = new Set(Object.values(ENV_NAMES));
    for (const k of Object.keys(fromFile)) {
      if (!known.has(k)) problems.push(`${k} (in ${file}) is not a known variable; expected one of ${[...known].join(', ')}`);
    }
  }

  const raw: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  for (const key of Object.keys(props) as (keyof Config)[]) {
    const name = ENV_NAMES[key];
    const envValue = nonEmpty(env[name]);
    const fileValue = fromFile[name];
    const value = envValue ?? (fileValue === '' || fileValue === null ? undefined : fileValue);
    if (value === undefined) continue;
    raw[key] = convert(props[key], value);
    origin[key] = envValue !== undefined ? 'env' : `in ${file}`;
  }

  // Backends follow the mode unless set.
  const production = raw.mode === 'production';
  raw.bus ??= production ? 'kafka' : 'memory';
  raw.store ??= production ? 'elasticsearch' : 'sqlite';
  raw.bookSource ??= production ? 'off' : 'replay';

  for (const key of Object.keys(props) as (keyof Config)[]) {
    const s = props[key];
    if (raw[key] === undefined && 'default' in s) raw[key] = structuredClone(s.default);
  }

  const check = validatorOf(ConfigSchema);
  const bad = new Set<string>();
  for (const err of check.Errors(raw)) {
    const key = err.path.split('/')[1] as keyof Config | undefined;
    if (!key || bad.has(key)) continue;
    bad.add(key);
    const s = props[key];
    if (!s) {
      problems.push(`unknown setting ${key}`);
      continue;
    }
    const shown = raw[key] === undefined ? 'missing' : `got ${show(key, raw[key])}${origin[key] ? ` (${origin[key]})` : ''}`;
    problems.push(`${s.env}: expected ${s.form}; ${shown}`);
  }

  if (problems.length === 0) {
    const c = raw as Config;
    if (c.bus === 'kafka' && c.kafkaBrokers.length === 0) {
      problems.push(`${ENV_NAMES.kafkaBrokers} is required when the bus is kafka (TICKCAST_MODE=production or TICKCAST_BUS=kafka): expected ${props.kafkaBrokers.form}`);
    }
    if (c.store === 'elasticsearch' && !c.esUrl) {
      problems.push(`${ENV_NAMES.esUrl} is required when the store is elasticsearch (TICKCAST_MODE=production or TICKCAST_STORE=elasticsearch): expected ${props.esUrl.form}`);
    }
    if (![10, 25, 100, 500, 1000].includes(c.bookDepth)) {
      problems.push(`${ENV_NAMES.bookDepth}: expected ${props.bookDepth.form}; got ${c.bookDepth}`);
    }
    if (c.kafkaReplicationFactor === 0) {
      problems.push(`${ENV_NAMES.kafkaReplicationFactor}: expected ${props.kafkaReplicationFactor.form}; got 0`);
    }
    if ((c.esUsername === undefined) !== (c.esPassword === undefined)) {
      problems.push(`${ENV_NAMES.esUsername} and ${ENV_NAMES.esPassword} go together: set both or neither`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return raw as Config;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

function show(key: keyof Config, v: unknown): string {
  if (isSecretKey(key)) return REDACTED;
  if (typeof v !== 'string') {
    const text = JSON.stringify(v);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  }
  return JSON.stringify(redactUrlCredentials(v.length > 200 ? `${v.slice(0, 200)}…` : v));
}

/** The configuration as printable JSON, keyed by variable name, secrets redacted. */
export function redactConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(props) as (keyof Config)[]) {
    const v = config[key];
    if (v === undefined) continue;
    out[ENV_NAMES[key]] = isSecretKey(key) ? REDACTED : typeof v === 'string' ? redactUrlCredentials(v) : v;
  }
  return out;
}

/** Every variable with its expected form and default, for `--help` texts. */
export function describeConfig(): string {
  return (Object.keys(props) as (keyof Config)[])
    .map((key) => {
      const s = props[key];
      const def = 'default' in s ? ` (default ${JSON.stringify(s.default)})` : '';
      return `  ${s.env}: ${s.form}${def}`;
    })
    .join('\n');
}
