/**
 * The stream contracts of DESIGN.md: one TypeBox schema per message type gives
 * both the static type (`Static<typeof X>`) and the runtime validator.
 * Never write an interface beside these: derive it.
 */
import { Type, type Static, type TSchema } from './typebox.ts';

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

/** Most trades in one TradeBatch (its JSON stays well under MAX_PAYLOAD_BYTES: tradeBatches also splits by size). */
export const MAX_BATCH_TRADES = 4096;

/**
 * Trades of one exchange and pair in stream order, as columns: trade i is
 * (trade_id[i], price[i], qty[i], side[i], ts_ms[i]), each column a Trade
 * field with its rules, all of one length (codec.ts checks that beside the
 * schema: `columnsMismatch`). The same trades as that many Trade messages in
 * that order; a producer with many trades of a pair at once (a replay, a
 * burst, a REST backfill) sends them as one message instead of one per trade,
 * which the candles service feeds to the aggregator without making an object
 * per trade. Same key as the trades (the pair), so order per pair holds.
 */
export const TradeBatch = Type.Object(
  {
    kind: Type.Literal('trades'),
    exchange: Type.String({ minLength: 1, maxLength: 32 }),
    pair: Pair(),
    trade_id: Type.Array(Id(), { minItems: 1, maxItems: MAX_BATCH_TRADES }),
    price: Type.Array(PosNum(), { minItems: 1, maxItems: MAX_BATCH_TRADES }),
    qty: Type.Array(PosNum(), { minItems: 1, maxItems: MAX_BATCH_TRADES }),
    side: Type.Array(TradeSide, { minItems: 1, maxItems: MAX_BATCH_TRADES }),
    ts_ms: Type.Array(EpochMs(), { minItems: 1, maxItems: MAX_BATCH_TRADES }),
  },
  { $id: 'TradeBatch', additionalProperties: false },
);
export type TradeBatch = Static<typeof TradeBatch>;

/** Why a TradeBatch's columns do not line up (null when they do): the rule its schema cannot state. */
export function columnsMismatch(b: TradeBatch): string | null {
  const n = b.trade_id.length;
  for (const c of ['price', 'qty', 'side', 'ts_ms'] as const) {
    if (b[c].length !== n) return `/${c}: ${b[c].length} values, trade_id has ${n} (every column of a trade batch has one value per trade)`;
  }
  return null;
}

/** One message of the `trades` stream: a trade, a batch of one pair's trades, or the source's event clock (a heartbeat). */
export const TradeEvent = Type.Union([Trade, TradeBatch, TradeHeartbeat], { $id: 'TradeEvent' });
export type TradeEvent = Static<typeof TradeEvent>;

/** A heartbeat, not a trade (a trade has no `kind`). */
export const isHeartbeat = (m: TradeEvent): m is TradeHeartbeat => (m as { kind?: unknown }).kind === 'heartbeat';
/** A batch of trades (TradeBatch). */
export const isTradeBatch = (m: TradeEvent): m is TradeBatch => (m as { kind?: unknown }).kind === 'trades';

/** Trade i of a batch. */
export function tradeAt(b: TradeBatch, i: number): Trade {
  return { exchange: b.exchange, pair: b.pair, trade_id: b.trade_id[i] as string, price: b.price[i] as number, qty: b.qty[i] as number, side: b.side[i] as Trade['side'], ts_ms: b.ts_ms[i] as number };
}

/** The trades of a batch, in order. */
export function tradesOf(b: TradeBatch): Trade[] {
  const out = new Array<Trade>(b.trade_id.length);
  for (let i = 0; i < out.length; i++) out[i] = tradeAt(b, i);
  return out;
}

/** Bytes a trade adds to a batch's JSON at most (ids counted as if every character were escaped). */
const tradeJsonBound = (t: Trade): number => 6 * t.trade_id.length + 80;
/** Where tradeBatches cuts a batch by size (a quarter of MAX_PAYLOAD_BYTES). */
const BATCH_BYTES = 256 * 1024;

/**
 * Events as the `trades` stream carries them compactly: each run of two or
 * more trades of one exchange and pair not separated by a heartbeat of that
 * pair becomes one TradeBatch (at most `maxTrades` trades and about 256 KiB
 * of JSON), placed where its first trade was; a lone trade and every
 * heartbeat stay as they are. Order per pair is kept (a pair's heartbeat
 * follows the batch of the trades before it), so consumers see the same
 * trades, per pair in the same order, as from `events`.
 */
export function tradeBatches(events: readonly TradeEvent[], maxTrades = 1000): TradeEvent[] {
  const cap = Math.max(1, Math.min(maxTrades, MAX_BATCH_TRADES));
  const out: (TradeEvent | Trade[])[] = [];
  const open = new Map<string, { run: Trade[]; bytes: number }>();
  for (const e of events) {
    const k = `${e.exchange}|${e.pair}`;
    if (isHeartbeat(e) || isTradeBatch(e)) {
      // Later trades of the pair go after it: into a new run.
      open.delete(k);
      out.push(e);
      continue;
    }
    let o = open.get(k);
    if (o === undefined || o.run.length >= cap || o.bytes >= BATCH_BYTES) {
      o = { run: [], bytes: 0 };
      open.set(k, o);
      out.push(o.run);
    }
    o.run.push(e);
    o.bytes += tradeJsonBound(e);
  }
  return out.map((x) => (Array.isArray(x) ? (x.length === 1 ? (x[0] as Trade) : batchOf(x)) : x));
}

/** Trades of one exchange and pair (in order) as one TradeBatch. */
export function batchOf(trades: readonly Trade[]): TradeBatch {
  const n = trades.length;
  const first = trades[0] as Trade;
  const b: TradeBatch = { kind: 'trades', exchange: first.exchange, pair: first.pair, trade_id: new Array(n), price: new Array(n), qty: new Array(n), side: new Array(n), ts_ms: new Array(n) };
  for (let i = 0; i < n; i++) {
    const t = trades[i] as Trade;
    if (t.exchange !== first.exchange || t.pair !== first.pair) throw new Error(`bug: a trade batch of ${first.exchange} ${first.pair} given a trade of ${t.exchange} ${t.pair}`);
    b.trade_id[i] = t.trade_id;
    b.price[i] = t.price;
    b.qty[i] = t.qty;
    b.side[i] = t.side;
    b.ts_ms[i] = t.ts_ms;
  }
  return b;
}

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

/**
 * Order-book features of one closed minute of one pair on one exchange (crates/book: spread,
 * mid/microprice, depth at 1/5/10 levels, depth-weighted imbalance, order-flow imbalance,
 * update counts), from books whose every message passed its checksum (Kraken) or sequence
 * check (Binance). `features` by name (@tickcast/book `bookFeatureNames()`); null where a value
 * is undefined (e.g. the spread while a side of the book is empty).
 */
export const BookFeatures = Type.Object(
  {
    exchange: Type.String({ minLength: 1, maxLength: 32 }),
    pair: Pair(),
    interval_s: Type.Integer({ minimum: 1, maximum: 86400 }),
    window_end_ms: EpochMs(),
    features: Type.Record(Type.String({ pattern: '^[a-z0-9_.]+$' }), Type.Union([Num(), Type.Null()]), { maxProperties: 128 }),
  },
  { $id: 'BookFeatures', additionalProperties: false },
);
export type BookFeatures = Static<typeof BookFeatures>;

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

const ModelVersion = () => Type.String({ minLength: 1, maxLength: 128 });

/** Predicted volatility of the next horizon (issue 18): a log-return standard deviation over the horizon, not annualized. */
export const VolatilityForecast = Type.Object(
  {
    value: PosNum(),
    model_version: ModelVersion(),
  },
  { additionalProperties: false },
);
export type VolatilityForecast = Static<typeof VolatilityForecast>;

/**
 * Price range at target_ms (issue 18): the range model's quantiles of the
 * log return ln(price[target] / last_close) at 5, 10, 50, 90 and 95%, and the
 * 80% (from q10, q90) and 90% (from q05, q95) price intervals served. When
 * `calibrated`, the intervals passed through the online calibration
 * (model/online-calibration.ts): the model's band stretched around the
 * median by m80 / m90, e.g. lo80 = last_close · e^(q50 - m80 · (q50 - q10));
 * else lo80 = last_close · e^q10 and so on.
 */
export const RangeForecast = Type.Object(
  {
    q05: Num(),
    q10: Num(),
    q50: Num(),
    q90: Num(),
    q95: Num(),
    lo80: PosNum(),
    hi80: PosNum(),
    lo90: PosNum(),
    hi90: PosNum(),
    calibrated: Type.Boolean(),
    /** The calibration multipliers applied (1 = the model's band as is). */
    m80: PosNum(),
    m90: PosNum(),
    model_version: ModelVersion(),
  },
  { additionalProperties: false },
);
export type RangeForecast = Static<typeof RangeForecast>;

/** Probability that the price at target_ms is above last_close (issue 18). */
export const DirectionForecast = Type.Object(
  {
    p_up: Type.Number({ minimum: 0, maximum: 1 }),
    model_version: ModelVersion(),
  },
  { additionalProperties: false },
);
export type DirectionForecast = Static<typeof DirectionForecast>;

/**
 * One prediction of a pair at made_at_ms: the price model's point price and,
 * from issue 18 on, the other targets' forecasts of the same feature row.
 * Every one of them is optional (a pair may have a range model but no price
 * model yet), so rows stored before issue 18 (price only) still read and
 * validate unchanged: no migration. model_name / model_version name the price
 * model when there is one, else the first present of range, volatility,
 * direction (they make the natural key); each forecast names its own version.
 */
export const Prediction = Type.Object(
  {
    pair: Pair(),
    made_at_ms: EpochMs(),
    target_ms: EpochMs(),
    horizon_s: Type.Integer({ minimum: 1 }),
    /** The price model's predicted price; absent when the pair has no production price model. */
    predicted_price: Type.Optional(PosNum()),
    last_close: PosNum(),
    model_name: Type.String({ minLength: 1, maxLength: 128 }),
    model_version: ModelVersion(),
    volatility: Type.Optional(VolatilityForecast),
    range: Type.Optional(RangeForecast),
    direction: Type.Optional(DirectionForecast),
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
  /** How many messages a valid one stands for (a batch: its items; default 1), for bounds counted in messages. */
  readonly weight?: (m: Static<S>) => number;
}

function spec<S extends TSchema>(s: TopicSpec<S>): TopicSpec<S> {
  return s;
}

export const Topics = {
  trades: spec({
    name: 'trades',
    schema: TradeEvent,
    key: (m) => m.pair,
    naturalKey: (m) =>
      isHeartbeat(m)
        ? `${m.exchange}|${m.pair}|heartbeat|${m.ts_ms}`
        : isTradeBatch(m)
          ? `${m.exchange}|${m.pair}|batch|${m.trade_id[0]}|${m.trade_id.length}`
          : `${m.exchange}|${m.pair}|${m.trade_id}`,
    variant: (v) => {
      const kind = (v as { kind?: unknown } | null)?.kind;
      return kind === undefined ? Trade : kind === 'trades' ? TradeBatch : TradeHeartbeat;
    },
    weight: (m) => (isTradeBatch(m) ? m.trade_id.length : 1),
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
  featuresBook: spec({
    name: 'features.book',
    schema: BookFeatures,
    key: (m) => m.pair,
    naturalKey: (m) => `${m.pair}|${m.exchange}|${m.interval_s}|${m.window_end_ms}`,
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
