/**
 * The stream contracts of DESIGN.md: one TypeBox schema per message type gives
 * both the static type (`Static<typeof X>`) and the runtime validator.
 * Never write an interface beside these: derive it.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** A finite number (TypeBox rejects NaN and ±Infinity by default policy). */
const Num = (opts: Record<string, unknown> = {}) => Type.Number(opts);
const PosNum = () => Type.Number({ exclusiveMinimum: 0 });
const NonNeg = () => Type.Number({ minimum: 0 });
/** Epoch milliseconds (UTC). */
const EpochMs = () => Type.Integer({ minimum: 0, maximum: 32503680000000 });
const Pair = () => Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Z0-9]+/[A-Z0-9]+$' });
const Id = () => Type.String({ minLength: 1, maxLength: 256 });

export const TradeSide = Type.Union([Type.Literal('buy'), Type.Literal('sell'), Type.Literal('unknown')]);

export const Trade = Type.Object(
  {
    exchange: Type.String({ minLength: 1, maxLength: 32 }),
    pair: Pair(),
    trade_id: Id(),
    price: PosNum(),
    qty: PosNum(),
    side: TradeSide,
    ts_ms: EpochMs(),
  },
  { $id: 'Trade', additionalProperties: false },
);
export type Trade = Static<typeof Trade>;

/**
 * The source's event clock for one pair, on the `trades` stream beside the
 * trades (same key, so it stays in order with them): every trade of this
 * exchange and pair sent after it has ts_ms at or above this ts_ms minus the
 * candle grace period. It comes from the source (the exchange's clock, or the
 * replay's), never from a consumer's clock, so a stalled pipe closes nothing.
 * A source sends one at least every second or so while it is live and has
 * delivered every trade up to that time, also when the market is quiet; the
 * candles service treats it like the time of a trade without a trade (quiet
 * minutes close on it). `final`: the source has ended; no trade of the pair
 * follows with ts_ms before this ts_ms (windows ending by it close, no grace).
 */
export const TradeHeartbeat = Type.Object(
  {
    kind: Type.Literal('heartbeat'),
    exchange: Type.String({ minLength: 1, maxLength: 32 }),
    pair: Pair(),
    ts_ms: EpochMs(),
    final: Type.Boolean(),
  },
  { $id: 'TradeHeartbeat', additionalProperties: false },
);
export type TradeHeartbeat = Static<typeof TradeHeartbeat>;

/** One message of the `trades` stream: a trade, or the source's event clock (a heartbeat). */
export const TradeEvent = Type.Union([Trade, TradeHeartbeat], { $id: 'TradeEvent' });
export type TradeEvent = Static<typeof TradeEvent>;

/** A heartbeat, not a trade (a trade has no `kind`). */
export const isHeartbeat = (m: TradeEvent): m is TradeHeartbeat => (m as { kind?: unknown }).kind === 'heartbeat';

export const Candle = Type.Object(
  {
    exchange: Type.String({ minLength: 1, maxLength: 32 }),
    pair: Pair(),
    interval_s: Type.Integer({ minimum: 1, maximum: 86400 }),
    window_start_ms: EpochMs(),
    window_end_ms: EpochMs(),
    open: PosNum(),
    high: PosNum(),
    low: PosNum(),
    close: PosNum(),
    volume: NonNeg(),
    /** Buy-side (taker buy) volume; 0 when the exchange gives no side. */
    buy_volume: NonNeg(),
    /** Sell-side (taker sell) volume; 0 when the exchange gives no side. */
    sell_volume: NonNeg(),
    vwap: PosNum(),
    trade_count: Type.Integer({ minimum: 0 }),
    /** True when the window had no trades: a flat candle at the previous close. */
    filled: Type.Boolean(),
  },
  { $id: 'Candle', additionalProperties: false },
);
export type Candle = Static<typeof Candle>;

export const TechnicalFeatures = Type.Object(
  {
    pair: Pair(),
    interval_s: Type.Integer({ minimum: 1, maximum: 86400 }),
    window_end_ms: EpochMs(),
    close: PosNum(),
    /** Indicator values by name; null while an indicator warms up. */
    features: Type.Record(Type.String({ pattern: '^[a-z0-9_.]+$' }), Type.Union([Num(), Type.Null()]), { maxProperties: 512 }),
  },
  { $id: 'TechnicalFeatures', additionalProperties: false },
);
export type TechnicalFeatures = Static<typeof TechnicalFeatures>;

export const News = Type.Object(
  {
    id: Id(),
    source: Type.String({ minLength: 1, maxLength: 128 }),
    title: Type.String({ minLength: 1, maxLength: 2000 }),
    url: Type.String({ maxLength: 4096 }),
    published_ms: EpochMs(),
    summary: Type.String({ maxLength: 20000 }),
  },
  { $id: 'News', additionalProperties: false },
);
export type News = Static<typeof News>;

export const Sentiment = Type.Object(
  {
    news_id: Id(),
    coin: Type.String({ minLength: 2, maxLength: 16, pattern: '^[A-Z0-9]+$' }),
    score: Type.Number({ minimum: -1, maximum: 1 }),
    model: Type.String({ minLength: 1, maxLength: 128 }),
    /** When the news item was published: the time the score becomes known to features. */
    ts_ms: EpochMs(),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { $id: 'Sentiment', additionalProperties: false },
);
export type Sentiment = Static<typeof Sentiment>;

export const Prediction = Type.Object(
  {
    pair: Pair(),
    made_at_ms: EpochMs(),
    target_ms: EpochMs(),
    horizon_s: Type.Integer({ minimum: 1 }),
    predicted_price: PosNum(),
    last_close: PosNum(),
    model_name: Type.String({ minLength: 1, maxLength: 128 }),
    model_version: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { $id: 'Prediction', additionalProperties: false },
);
export type Prediction = Static<typeof Prediction>;

export const PredictionError = Type.Object(
  {
    pair: Pair(),
    target_ms: EpochMs(),
    predicted_price: PosNum(),
    actual_price: PosNum(),
    error: Num(),
    abs_pct_error: NonNeg(),
    model_version: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { $id: 'PredictionError', additionalProperties: false },
);
export type PredictionError = Static<typeof PredictionError>;

export const DeadLetter = Type.Object(
  {
    /** The topic the payload was read from or meant for. */
    topic: Type.String(),
    /** The rejected payload as received (text, truncated to 64 KiB). */
    payload: Type.String(),
    reason: Type.String(),
    /** Which service or source rejected it. */
    source: Type.String(),
    ts_ms: EpochMs(),
  },
  { $id: 'DeadLetter', additionalProperties: false },
);
export type DeadLetter = Static<typeof DeadLetter>;

/** One entry per stream of DESIGN.md. */
export interface TopicSpec<S extends TSchema> {
  readonly name: string;
  readonly schema: S;
  /** Kafka message key: keeps each pair (or coin, or news item) ordered. */
  readonly key: (m: Static<S>) => string;
  /** Natural key: the document id of idempotent writes. */
  readonly naturalKey: (m: Static<S>) => string;
  /**
   * A stream of several message kinds (a union schema): the member a parsed
   * value claims to be, so a rejected one gets that member's precise errors.
   */
  readonly variant?: (parsed: unknown) => TSchema;
}

function spec<S extends TSchema>(s: TopicSpec<S>): TopicSpec<S> {
  return s;
}

export const Topics = {
  trades: spec({
    name: 'trades',
    schema: TradeEvent,
    key: (m) => m.pair,
    naturalKey: (m) => (isHeartbeat(m) ? `${m.exchange}|${m.pair}|heartbeat|${m.ts_ms}` : `${m.exchange}|${m.pair}|${m.trade_id}`),
    variant: (v) => ((v as { kind?: unknown } | null)?.kind !== undefined ? TradeHeartbeat : Trade),
  }),
  candles: spec({
    name: 'candles',
    schema: Candle,
    key: (m) => m.pair,
    naturalKey: (m) => `${m.pair}|${m.interval_s}|${m.window_end_ms}`,
  }),
  featuresTechnical: spec({
    name: 'features.technical',
    schema: TechnicalFeatures,
    key: (m) => m.pair,
    naturalKey: (m) => `${m.pair}|${m.interval_s}|${m.window_end_ms}`,
  }),
  news: spec({
    name: 'news',
    schema: News,
    key: (m) => m.id,
    naturalKey: (m) => m.id,
  }),
  sentiment: spec({
    name: 'sentiment',
    schema: Sentiment,
    key: (m) => m.coin,
    naturalKey: (m) => `${m.news_id}|${m.coin}|${m.model}`,
  }),
  predictions: spec({
    name: 'predictions',
    schema: Prediction,
    key: (m) => m.pair,
    naturalKey: (m) => `${m.pair}|${m.model_version}|${m.made_at_ms}`,
  }),
  predictionErrors: spec({
    name: 'prediction-errors',
    schema: PredictionError,
    key: (m) => m.pair,
    naturalKey: (m) => `${m.pair}|${m.model_version}|${m.target_ms}`,
  }),
} as const;

export type TopicKey = keyof typeof Topics;
export type MessageOf<K extends TopicKey> = Static<(typeof Topics)[K]['schema']>;

/** Dead-letter topic name for a stream: `dlq.<topic>`. */
export const dlqTopic = (topic: string): string => `dlq.${topic}`;

/** The largest payload a consumer accepts; larger ones are dead-lettered. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
