/**
 * What the model registry keeps about one model version (meta.json in the
 * folder backend, the `meta` field in Elasticsearch). One schema gives the
 * type and the validator used when a version is read back.
 */
import { Type, type Static } from '@sinclair/typebox';

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
    kind: Type.Union([Type.Literal('lightgbm'), Type.Literal('ridge')]),
    pair: Type.String({ pattern: '^[A-Z0-9]+/[A-Z0-9]+$' }),
    created_ms: Type.Integer({ minimum: 0 }),
    status: ModelStatus,
    /** Why the status is what it is (promotion decision, rollback...). */
    reason: Type.String(),
    /** Model input columns in order (technical then sentiment). */
    feature_names: Type.Array(Type.String()),
    technical_features: Type.Array(Type.String()),
    sentiment_features: Type.Array(Type.String()),
    /** Coin whose sentiment is joined (when sentiment_features is not empty). */
    sentiment_coin: Type.Optional(Type.String()),
    target: Type.Union([Type.Literal('log_return'), Type.Literal('price')]),
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
          current_mode: Type.Optional(Type.String()),
        }),
      ),
      overall: ByContender,
      /** The production version the candidate was compared with, if any. */
      compared_with: Type.Union([Type.String(), Type.Null()]),
      current_note: Type.Optional(Type.String()),
    }),
    search: Type.Optional(Type.Object({ trials: Type.Integer(), elapsed_ms: Type.Number(), best_rmse: Type.Number() })),
    library_versions: Type.Record(Type.String(), Type.String()),
    code_commit: Type.String(),
  },
  { $id: 'ModelMeta', additionalProperties: false },
);
export type ModelMeta = Static<typeof ModelMeta>;

/** The production alias of one pair, with the previous production versions (for rollback). */
export const ProductionAlias = Type.Object(
  {
    pair: Type.String(),
    version: Type.Union([Type.String(), Type.Null()]),
    /** Earlier production versions, oldest first. */
    history: Type.Array(Type.String()),
    updated_ms: Type.Integer(),
  },
  { additionalProperties: false },
);
export type ProductionAlias = Static<typeof ProductionAlias>;
