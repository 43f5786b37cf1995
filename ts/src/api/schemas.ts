/**
 * The request and response schemas of the REST API. The same TypeBox objects
 * validate requests (fastify's Ajv), serialise responses (fast-json-stringify)
 * and generate the OpenAPI document (@fastify/swagger): one schema, three uses.
 * Message shapes come from the stream contracts (ts/src/contracts/messages.ts).
 */
import { Type, type Static, type TObject, type TProperties } from '../contracts/typebox.ts';
import { BookFeatures, Candle, Prediction, PredictionError } from '../contracts/messages.ts';
import { AccuracyRow, ForecastAccuracyRow, UnresolvedSummary } from '../monitor/monitoring-snapshot.ts';

/**
 * A contract schema inlined without its `$id`, so several routes can use it
 * (Ajv refuses two schemas with the same id) while the fields stay exactly
 * the contract's.
 */
function inline<P extends TProperties>(s: TObject<P>, description: string): TObject<P> {
  return Type.Object(s.properties, { additionalProperties: false, description });
}

export const PredictionBody = inline(Prediction, 'A prediction (the `predictions` stream message)');
export const CandleBody = inline(Candle, 'A candle (the `candles` stream message)');
export const PredictionErrorBody = inline(PredictionError, 'A measured prediction error (the `prediction-errors` stream message)');
export const BookFeaturesBody = inline(BookFeatures, 'One closed minute of order-book features (the `features.book` stream message)');

/** Largest page of history. */
export const MAX_HISTORY_LIMIT = 1000;
export const DEFAULT_HISTORY_LIMIT = 100;

const PairParam = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: '^[A-Z0-9]+/[A-Z0-9]+$',
  description: 'A pair the service predicts, BASE/QUOTE in capitals (see GET /v1/pairs), e.g. BTC/USD',
  examples: ['BTC/USD'],
});

/** Most rows of GET /v1/features/book. */
export const MAX_BOOK_LIMIT = 1000;
export const DEFAULT_BOOK_LIMIT = 60;

export const BookQuery = Type.Object(
  {
    pair: Type.String({
      minLength: 3,
      maxLength: 32,
      pattern: '^[A-Z0-9]+/[A-Z0-9]+$',
      description: 'A pair with order-book features, BASE/QUOTE in capitals, e.g. BTC/USD (Kraken) or BTC/USDT (Binance)',
      examples: ['BTC/USDT'],
    }),
    exchange: Type.Optional(Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z0-9_-]+$', description: 'Only this exchange (default: the one with the newest book row of the pair)', examples: ['binance'] })),
    limit: Type.Integer({ minimum: 1, maximum: MAX_BOOK_LIMIT, default: DEFAULT_BOOK_LIMIT, description: `At most this many minutes, newest first (1 to ${MAX_BOOK_LIMIT})` }),
  },
  { additionalProperties: false },
);
export type BookQuery = Static<typeof BookQuery>;

export const BookReply = Type.Object(
  {
    pair: Type.String(),
    exchange: Type.String({ description: 'The exchange of the rows' }),
    interval_s: Type.Integer({ description: 'Seconds per row (one minute)' }),
    exchanges: Type.Array(Type.String(), { description: 'Every exchange with book rows of the pair' }),
    items: Type.Array(BookFeaturesBody, { description: 'Closed minutes, newest window_end_ms first' }),
  },
  { additionalProperties: false },
);
export type BookReply = Static<typeof BookReply>;

/** Epoch milliseconds, or an ISO 8601 UTC instant (date, or date and time with Z or an offset). */
export const TIME_PATTERN =
  '^([0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?)$';
const TimeParam = (what: string) =>
  Type.String({
    maxLength: 40,
    pattern: TIME_PATTERN,
    description: `${what}: epoch milliseconds (e.g. 1723161600000) or an ISO 8601 UTC instant (e.g. 2024-08-09T00:00:00Z)`,
  });

export const LatestQuery = Type.Object({ pair: PairParam }, { additionalProperties: false });
export type LatestQuery = Static<typeof LatestQuery>;

export const LatestReply = Type.Object(
  {
    prediction: PredictionBody,
    /** now − made_at_ms. */
    age_ms: Type.Integer({ description: 'How old the prediction is: now minus made_at_ms (ms)' }),
    stale: Type.Boolean({ description: 'True when age_ms is above stale_after_ms' }),
    stale_after_ms: Type.Integer({ description: 'The configured staleness limit (ms)' }),
  },
  { additionalProperties: false },
);
export type LatestReply = Static<typeof LatestReply>;

export const HistoryQuery = Type.Object(
  {
    pair: PairParam,
    from: Type.Optional(TimeParam('Oldest made_at to include (inclusive)')),
    to: Type.Optional(TimeParam('Newest made_at to include (inclusive)')),
    limit: Type.Integer({
      minimum: 1,
      maximum: MAX_HISTORY_LIMIT,
      default: DEFAULT_HISTORY_LIMIT,
      description: `Page size, 1 to ${MAX_HISTORY_LIMIT}`,
    }),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'next_cursor of the previous page' }),
    ),
    model_version: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Only this model version' })),
  },
  { additionalProperties: false },
);
export type HistoryQuery = Static<typeof HistoryQuery>;

export const HistoryReply = Type.Object(
  {
    pair: Type.String(),
    items: Type.Array(PredictionBody, { description: 'Predictions, newest made_at first' }),
    next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next (older) page; null on the last page' }),
  },
  { additionalProperties: false },
);
export type HistoryReply = Static<typeof HistoryReply>;

export const PairsReply = Type.Object(
  {
    pairs: Type.Array(
      Type.Object(
        {
          pair: Type.String(),
          latest_made_at_ms: Type.Union([Type.Integer(), Type.Null()], { description: 'made_at_ms of the latest prediction, null if none yet' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PairsReply = Static<typeof PairsReply>;

/** What GET /v1/models/production returns; a model registry provides it. */
export const ProductionModelQuery = Type.Object(
  { pair: Type.Optional(PairParam) },
  { additionalProperties: false },
);
export type ProductionModelQuery = Static<typeof ProductionModelQuery>; // pair omitted: the first pair served

export const ProductionModelInfo = Type.Object(
  {
    pair: Type.Optional(Type.String({ description: 'The pair the model predicts' })),
    model_name: Type.String({ minLength: 1, maxLength: 128 }),
    model_version: Type.String({ minLength: 1, maxLength: 128 }),
    /** Walk-forward evaluation metrics by name (e.g. mae, mape, baseline_mae). */
    metrics: Type.Record(Type.String(), Type.Number()),
    trained_from_ms: Type.Integer({ minimum: 0, description: 'Start of the training data range (epoch ms)' }),
    trained_to_ms: Type.Integer({ minimum: 0, description: 'End of the training data range (epoch ms)' }),
    promoted_at_ms: Type.Optional(Type.Integer({ minimum: 0, description: 'When it became production (epoch ms)' })),
    features: Type.Optional(Type.Array(Type.String(), { description: 'Feature names, in model order' })),
  },
  { additionalProperties: false, description: 'The production model: version, metrics, trained range' },
);
export type ProductionModelInfo = Static<typeof ProductionModelInfo>;

/** Where the API reads the production model from (the model registry: production-model.ts). */
export interface ProductionModelProvider {
  /** The production model of a pair, or null when there is none (→ 404 NO_PRODUCTION_MODEL). */
  production(pair: string): Promise<ProductionModelInfo | null>;
}

/** A provider without any model: there is never a production model (tests). */
export const noModelRegistry: ProductionModelProvider = { production: async () => null };

export const MonitoringWindow = Type.Union([Type.Literal('1h'), Type.Literal('1d'), Type.Literal('7d')], {
  description: 'Only this rolling window: 1h, 1d or 7d (default: all three)',
});

export const MonitoringQuery = Type.Object(
  {
    pair: Type.Optional(PairParam),
    window: Type.Optional(MonitoringWindow),
    model_version: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'Only this model version (baseline:persistence is the persistence baseline)' }),
    ),
  },
  { additionalProperties: false },
);
export type MonitoringQuery = Static<typeof MonitoringQuery>;

export const MonitoringReply = Type.Object(
  {
    source: Type.Union([Type.Literal('monitor'), Type.Literal('store')], {
      description: "monitor: the live monitor of this process; store: recomputed from the prediction store's error rows",
    }),
    generated_at_ms: Type.Integer(),
    windows_end_ms: Type.Union([Type.Integer(), Type.Null()], {
      description: 'End of the rolling windows: the newest resolved target (event time) of any pair; null before the first',
    }),
    accuracy: Type.Array(AccuracyRow, { description: 'Per pair, model version (the baseline included) and window; sorted by pair, model, window' }),
    forecasts: Type.Array(ForecastAccuracyRow, {
      description:
        'Resolved probabilistic forecasts (range coverage, pinball, interval scores; volatility QLIKE; direction Brier) per pair, target, model version (live baselines included) and window, beside the baseline on the same targets; sorted by pair, target, model, window',
    }),
    unresolved: Type.Union([UnresolvedSummary, Type.Null()], {
      description: 'Predictions of any pair whose target passed without a candle; null when the source is the store (only the monitor knows)',
    }),
  },
  { additionalProperties: false, description: 'The live prediction-error summary' },
);
export type MonitoringReply = Static<typeof MonitoringReply>;

export const HealthReply = Type.Object({ status: Type.Literal('ok'), uptime_s: Type.Integer() }, { additionalProperties: false });
export const ReadyReply = Type.Object(
  { ready: Type.Boolean(), checks: Type.Record(Type.String(), Type.Boolean()) },
  { additionalProperties: false },
);
