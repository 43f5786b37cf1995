/**
 * The store interfaces of DESIGN.md ("Stores"): a feature store and a
 * prediction store, each made of time series of validated rows. Both the
 * SQLite (embedded) and the Elasticsearch (production) implementations satisfy
 * these, and ts/test/stores/store-contract.ts runs the same cases on both.
 */
import { Type, type Static, type TSchema } from '../contracts/typebox.ts';
import {
  BookFeatures,
  Candle,
  Prediction,
  PredictionError,
  TechnicalFeatures,
  Topics,
} from '../contracts/messages.ts';

/**
 * One row of sentiment features: named numeric aggregates of the sentiment
 * scores of one coin known at `ts_ms` (for example a rolling mean and a news
 * count). A feature is null when there is nothing to aggregate yet.
 */
export const SentimentFeatures = Type.Object(
  {
    coin: Type.String({ minLength: 2, maxLength: 16, pattern: '^[A-Z0-9]+$' }),
    /** The time the aggregate becomes known (UTC epoch milliseconds). */
    ts_ms: Type.Integer({ minimum: 0, maximum: 32503680000000 }),
    features: Type.Record(Type.String({ pattern: '^[a-z0-9_.]+$' }), Type.Union([Type.Number(), Type.Null()]), {
      maxProperties: 512,
    }),
  },
  { $id: 'SentimentFeatures', additionalProperties: false },
);
export type SentimentFeatures = Static<typeof SentimentFeatures>;

/** Natural key of a sentiment features row (its document id): coin + ts_ms. */
export const sentimentFeaturesKey = (m: SentimentFeatures): string => `${m.coin}|${m.ts_ms}`;

/**
 * One resolved probabilistic forecast (issue 18): a range, volatility or
 * direction output of a prediction scored against the candles at and before
 * its target, or the live baseline of that target for the same pair and
 * target time (model_version `baseline:gaussian_ewma`, `baseline:vol_persistence`,
 * `baseline:base_rate`; one row per pair, target and target time).
 *
 * A record kind of its own in the prediction store (series
 * `forecast-errors`: its own SQLite table and Elasticsearch index) beside the
 * price errors: the PredictionError contract and its stored rows are
 * unchanged, so every old row reads as before (no migration).
 *
 * Fields by target (the others are absent):
 * - range: the served intervals (calibrated when they were) as log returns
 *   ln(bound / last_close), `hit80` / `hit90` (actual_log_return inside the
 *   closed interval), pinball loss (mean over the 5, 10, 50, 90, 95%
 *   quantiles, the served bounds standing for 5/10/90/95%), Winkler interval
 *   scores, widths; in basis points of log return, as the range target's
 *   metrics (model/targets/range.ts rangeScores). abs_error = |y - q50|.
 * - volatility: predicted and realized 5-minute volatility (realized from the
 *   1-minute closes made_at..target, floored at 1e-5), squared error of
 *   ln volatility, QLIKE of the variance (volatilityScores). abs_error =
 *   |ln predicted - ln realized|.
 * - direction: p_up, the outcome (strictly higher), Brier score. abs_error =
 *   |p_up - outcome|.
 */
export const ForecastTarget = Type.Union([Type.Literal('range'), Type.Literal('volatility'), Type.Literal('direction')]);
export type ForecastTarget = Static<typeof ForecastTarget>;

const Pair = () => Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Z0-9]+/[A-Z0-9]+$' });
const Ms = () => Type.Integer({ minimum: 0, maximum: 32503680000000 });
const Fin = () => Type.Number();
const NonNegNum = () => Type.Number({ minimum: 0 });
const PosNumber = () => Type.Number({ exclusiveMinimum: 0 });

export const ForecastError = Type.Object(
  {
    pair: Pair(),
    target: ForecastTarget,
    model_version: Type.String({ minLength: 1, maxLength: 128 }),
    /** True for a live baseline's row. */
    baseline: Type.Boolean(),
    made_at_ms: Ms(),
    target_ms: Ms(),
    last_close: PosNumber(),
    actual_price: PosNumber(),
    /** The absolute error the drift detector watches (see above, per target). */
    abs_error: NonNegNum(),
    // range
    actual_log_return: Type.Optional(Fin()),
    lo80: Type.Optional(Fin()),
    hi80: Type.Optional(Fin()),
    lo90: Type.Optional(Fin()),
    hi90: Type.Optional(Fin()),
    hit80: Type.Optional(Type.Boolean()),
    hit90: Type.Optional(Type.Boolean()),
    pinball_bp: Type.Optional(NonNegNum()),
    interval_score80_bp: Type.Optional(NonNegNum()),
    interval_score90_bp: Type.Optional(NonNegNum()),
    width80_bp: Type.Optional(NonNegNum()),
    width90_bp: Type.Optional(NonNegNum()),
    // volatility
    predicted_vol: Type.Optional(PosNumber()),
    realized_vol: Type.Optional(PosNumber()),
    sq_log_vol_error: Type.Optional(NonNegNum()),
    qlike: Type.Optional(NonNegNum()),
    // direction
    p_up: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    up: Type.Optional(Type.Boolean()),
    brier: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  { $id: 'ForecastError', additionalProperties: false },
);
export type ForecastError = Static<typeof ForecastError>;

/** Natural key of a forecast error row: pair + target + model_version + target_ms. */
export const forecastErrorKey = (m: ForecastError): string => `${m.pair}|${m.target}|${m.model_version}|${m.target_ms}`;

/** Selects the series of one pair at one candle interval. */
export interface PairInterval {
  pair: string;
  interval_s: number;
}
/** Selects the series of one coin. */
export interface CoinSelector {
  coin: string;
}
/** Selects the predictions (or errors) of one pair; of one model version only when given. */
export interface PairModelSelector {
  pair: string;
  model_version?: string;
}

/** Selects the forecast errors of one pair; of one target and one model version only when given. */
export interface ForecastErrorSelector {
  pair: string;
  target?: ForecastTarget;
  model_version?: string;
}

/** A time range of one series. Bounds are inclusive; both optional (open range). */
export interface RangeQuery {
  from_ms?: number;
  to_ms?: number;
  /** 'asc' (default): oldest first. With 'desc' and a limit you get the newest rows. */
  order?: 'asc' | 'desc';
  /** At most this many rows (default: all). */
  limit?: number;
}

/** One document of a batch that was not written, with the reason. */
export interface RejectedDocument {
  /** Position of the document in the batch given to write(). */
  index: number;
  error: StoreErrorLike;
}
/** The shape of StoreError (kept structural here so this file holds no class). */
export interface StoreErrorLike extends Error {
  code: StoreErrorCode;
}

/** Outcome of a batch write: the valid documents are written, the invalid ones listed. */
export interface WriteResult {
  /** Number of documents written (acknowledged by the store). */
  written: number;
  rejected: RejectedDocument[];
}

export type StoreErrorCode =
  /** The document does not satisfy its schema (NaN, missing field, wrong type...). */
  | 'INVALID_DOCUMENT'
  /** The store refused the document for a reason of its own (e.g. a mapping conflict). */
  | 'REJECTED_BY_STORE'
  /** The store stayed unreachable (or answered 5xx/429) for the whole retry budget. */
  | 'STORE_UNAVAILABLE'
  /** A store option is malformed (e.g. an index prefix with upper-case letters). */
  | 'INVALID_CONFIG'
  /** A query argument is malformed (e.g. a negative limit). */
  | 'INVALID_QUERY'
  /** The store was used after close(). */
  | 'CLOSED'
  /** Anything else the backend reported. */
  | 'BACKEND_ERROR';

/**
 * One time series family of rows (e.g. all technical features), partitioned
 * by a selector (e.g. pair + interval). Rows are upserted by natural key: a
 * row written twice is stored once, with the latest value.
 */
export interface Series<T, S> {
  /**
   * Validate then upsert a batch. Invalid documents are not written and come
   * back in `rejected` with a StoreError of code INVALID_DOCUMENT; the valid
   * ones are written. Rejects (throws) only when the store itself fails
   * (e.g. STORE_UNAVAILABLE after the retry budget): then nothing of this
   * batch counts as acknowledged.
   */
  write(docs: readonly T[]): Promise<WriteResult>;
  /** Write one document; throws the StoreError if it is invalid. */
  put(doc: T): Promise<void>;
  /** The newest row of a series, or null if it has none. */
  latest(sel: S): Promise<T | null>;
  /** The newest row of every series (one per pair, or per coin), in series-key order. */
  latestAll(): Promise<T[]>;
  /** Rows of a series with from_ms <= time <= to_ms, ordered by time (then natural key). */
  range(sel: S, q?: RangeQuery): Promise<T[]>;
  /**
   * Several ranges at once, each result what range() gives for it, in the order asked (Elasticsearch: one
   * msearch request per 100 ranges instead of a search each; a warm-up of 200 pairs reads in one round trip).
   */
  rangeMany(reqs: readonly { sel: S; q?: RangeQuery }[]): Promise<T[][]>;
  /** The newest row at or before t_ms (point-in-time lookup), or null. */
  asOf(sel: S, t_ms: number): Promise<T | null>;
}

/** Technical features, sentiment features and raw candles. */
export interface FeatureStore {
  /** Rows of `features.technical`; time = window_end_ms. */
  readonly technical: Series<TechnicalFeatures, PairInterval>;
  /** Sentiment feature rows; time = ts_ms. */
  readonly sentiment: Series<SentimentFeatures, CoinSelector>;
  /** Rows of `candles`; time = window_end_ms. */
  readonly candles: Series<Candle, PairInterval>;
  /** Rows of `features.book` (order-book features per minute); time = window_end_ms. */
  readonly book: Series<BookFeatures, ExchangePairInterval>;
}

/** One exchange's series of a pair at an interval (book features). */
export interface ExchangePairInterval {
  exchange: string;
  pair: string;
  interval_s: number;
}

/** Predictions and their measured errors. */
export interface PredictionStore {
  /** Rows of `predictions`; time = made_at_ms. */
  readonly predictions: Series<Prediction, PairModelSelector>;
  /** Rows of `prediction-errors`; time = target_ms. */
  readonly errors: Series<PredictionError, PairModelSelector>;
  /** Resolved probabilistic forecasts and their live baselines (issue 18); time = target_ms. */
  readonly forecastErrors: Series<ForecastError, ForecastErrorSelector>;
}

export interface Stores {
  features: FeatureStore;
  predictions: PredictionStore;
  /** Flush and release the backend (connection, file handles). Idempotent. */
  close(): Promise<void>;
}

/**
 * How one series is stored: everything a backend needs to know, so each
 * backend implements the generic series once.
 */
export interface SeriesSpec<T> {
  /** Table name suffix / index name suffix, lowercase: `features-technical`. */
  readonly name: string;
  readonly schema: TSchema;
  readonly naturalKey: (m: T) => string;
  /** The field that orders the series in time (epoch ms). */
  readonly timeField: string;
  /** The fields whose values select one series (all required in a selector). */
  readonly seriesFields: readonly string[];
  /** Further selector fields that filter only when given. */
  readonly filterFields: readonly string[];
}

export const TechnicalFeaturesSeries: SeriesSpec<TechnicalFeatures> = {
  name: 'features-technical',
  schema: TechnicalFeatures,
  naturalKey: Topics.featuresTechnical.naturalKey,
  timeField: 'window_end_ms',
  seriesFields: ['pair', 'interval_s'],
  filterFields: [],
};
export const SentimentFeaturesSeries: SeriesSpec<SentimentFeatures> = {
  name: 'features-sentiment',
  schema: SentimentFeatures,
  naturalKey: sentimentFeaturesKey,
  timeField: 'ts_ms',
  seriesFields: ['coin'],
  filterFields: [],
};
export const BookFeaturesSeries: SeriesSpec<BookFeatures> = {
  name: 'features-book',
  schema: BookFeatures,
  naturalKey: Topics.featuresBook.naturalKey,
  timeField: 'window_end_ms',
  seriesFields: ['exchange', 'pair', 'interval_s'],
  filterFields: [],
};
export const CandleSeries: SeriesSpec<Candle> = {
  name: 'candles',
  schema: Candle,
  naturalKey: Topics.candles.naturalKey,
  timeField: 'window_end_ms',
  seriesFields: ['pair', 'interval_s'],
  filterFields: [],
};
export const PredictionSeries: SeriesSpec<Prediction> = {
  name: 'predictions',
  schema: Prediction,
  naturalKey: Topics.predictions.naturalKey,
  timeField: 'made_at_ms',
  seriesFields: ['pair'],
  filterFields: ['model_version'],
};
export const PredictionErrorSeries: SeriesSpec<PredictionError> = {
  name: 'prediction-errors',
  schema: PredictionError,
  naturalKey: Topics.predictionErrors.naturalKey,
  timeField: 'target_ms',
  seriesFields: ['pair'],
  filterFields: ['model_version'],
};

export const ForecastErrorSeries: SeriesSpec<ForecastError> = {
  name: 'forecast-errors',
  schema: ForecastError,
  naturalKey: forecastErrorKey,
  timeField: 'target_ms',
  seriesFields: ['pair'],
  filterFields: ['target', 'model_version'],
};

/** Every series, in a fixed order (tables and indices are created for each). */
export const AllSeries = [
  TechnicalFeaturesSeries,
  SentimentFeaturesSeries,
  CandleSeries,
  PredictionSeries,
  PredictionErrorSeries,
  ForecastErrorSeries,
  BookFeaturesSeries,
] as const;
