/**
 * What the model registry keeps about one model version (meta.json in the
 * folder backend, the `meta` field in Elasticsearch). One schema gives the
 * type and the validator used when a version is read back.
 */
import { Type, type Static } from '../contracts/typebox.ts';
import { MODEL_KINDS } from '../model/backends.ts';

const Metrics = Type.Object({
  n: Type.Integer({ minimum: 0 }),
  mae: Type.Number(),
  rmse: Type.Number(),
  mape: Type.Number(),
  directional_accuracy: Type.Union([Type.Number(), Type.Null()]),
});
const ByContender = Type.Object({
  model: Type.Optional(Metrics),
  persistence: Type.Optional(Metrics),
  ridge: Type.Optional(Metrics),
  current: Type.Optional(Metrics),
});

/** Metrics of a non-price target by contender (`model` and each baseline), by metric name. */
const Scores = Type.Record(Type.String(), Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()])));

export const ModelStatus = Type.Union([
  Type.Literal('candidate'),
  Type.Literal('production'),
  Type.Literal('rejected'),
  Type.Literal('retired'),
  Type.Literal('rolled_back'),
]);
export type ModelStatus = Static<typeof ModelStatus>;

export const ModelMeta = Type.Object(
  {
    version: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,127}$' }),
    model_name: Type.String({ minLength: 1, maxLength: 128 }),
    /** A backend of model/backends.ts. */
    kind: Type.Union(MODEL_KINDS.map((k) => Type.Literal(k))),
    pair: Type.String({ pattern: '^[A-Z0-9]+/[A-Z0-9]+$' }),
    created_ms: Type.Integer({ minimum: 0 }),
    status: ModelStatus,
    /** Why the status is what it is (promotion decision, rollback...). */
    reason: Type.String(),
    /** Model input columns in order (technical, sentiment, book as book_<name>, context). */
    feature_names: Type.Array(Type.String()),
    technical_features: Type.Array(Type.String()),
    sentiment_features: Type.Array(Type.String()),
    /** Context features appended after them (model/context-features.ts), for the targets that use them. */
    context_features: Type.Optional(Type.Array(Type.String())),
    /** Coin whose sentiment is joined (when sentiment_features is not empty). */
    sentiment_coin: Type.Optional(Type.String()),
    /** Order-book feature names (as in `features.book` rows) joined as of t after the sentiment; absent or empty: none. */
    book_features: Type.Optional(Type.Array(Type.String())),
    /** The exchange whose book rows of the pair are joined (when book_features is not empty). */
    book_exchange: Type.Optional(Type.String()),
    /** A target of the target registry (model/targets.ts): log_return, price, volatility, range, direction. */
    target: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
    horizon_s: Type.Integer({ minimum: 1 }),
    interval_s: Type.Integer({ minimum: 1 }),
    params: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
    data: Type.Object({
      from_ms: Type.Integer(),
      to_ms: Type.Integer(),
      rows: Type.Integer({ minimum: 0 }),
      sha256: Type.String(),
      dropped: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
      source: Type.String(),
    }),
    evaluation: Type.Object({
      folds: Type.Array(
        Type.Object({
          index: Type.Integer(),
          train_from_ms: Type.Integer(),
          train_to_ms: Type.Integer(),
          test_from_ms: Type.Integer(),
          test_to_ms: Type.Integer(),
          train_rows: Type.Integer(),
          test_rows: Type.Integer(),
          iterations: Type.Union([Type.Integer(), Type.Null()]),
          metrics: ByContender,
          scores: Type.Optional(Scores),
          current_mode: Type.Optional(Type.String()),
        }),
      ),
      overall: ByContender,
      /** Targets other than the price: their metrics by contender (the price target uses `overall`). */
      scores: Type.Optional(Scores),
      /** The production version the candidate was compared with, if any. */
      compared_with: Type.Union([Type.String(), Type.Null()]),
      current_note: Type.Optional(Type.String()),
      /** Non-price targets trained with book features: the same walk-forward (folds, parameters) with and without them. */
      book_comparison: Type.Optional(
        Type.Object({
          exchange: Type.String(),
          /** Dataset rows with book data / all rows; test rows (all folds) with book data / all test rows. */
          rows_with_book: Type.Integer({ minimum: 0 }),
          rows: Type.Integer({ minimum: 0 }),
          test_rows_with_book: Type.Integer({ minimum: 0 }),
          test_rows: Type.Integer({ minimum: 0 }),
          with_book: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()])),
          without_book: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()])),
          note: Type.String(),
        }),
      ),
    }),
    search: Type.Optional(
      Type.Object({
        trials: Type.Integer(),
        elapsed_ms: Type.Number(),
        best_rmse: Type.Number(),
        /** Non-price targets: each candidate parameter set with its rank (lower is better) and scores. */
        candidates: Type.Optional(
          Type.Array(Type.Object({ params: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])), rank: Type.Number(), scores: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()])) })),
        ),
      }),
    ),
    library_versions: Type.Record(Type.String(), Type.String()),
    code_commit: Type.String(),
  },
  { $id: 'ModelMeta', additionalProperties: false },
);
export type ModelMeta = Static<typeof ModelMeta>;

/** The production alias of one (pair, target family), with the previous production versions (for rollback). */
export const ProductionAlias = Type.Object(
  {
    pair: Type.String(),
    /** Target family (absent = price, the aliases written before targets existed). */
    target: Type.Optional(Type.String()),
    version: Type.Union([Type.String(), Type.Null()]),
    /** Earlier production versions, oldest first. */
    history: Type.Array(Type.String()),
    updated_ms: Type.Integer(),
  },
  { additionalProperties: false },
);
export type ProductionAlias = Static<typeof ProductionAlias>;

/** The storage key of the alias of (pair, family): the pair alone for the price family. */
export function aliasKey(pair: string, family = 'price'): string {
  return family === 'price' ? pair : `${pair}#${family}`;
}
