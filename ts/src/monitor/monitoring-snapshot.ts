/**
 * The monitoring snapshot: what GET /v1/monitoring serves and the dashboard's
 * error and freshness panels show. One schema gives the type and the
 * validator (fastify response schema).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** Rolling accuracy of one pair, model version and window (ts/src/monitor/rolling-aggregates.ts). */
export const AccuracyRow = Type.Object({
  pair: Type.String(),
  model_version: Type.String({ description: 'The model version, or baseline:persistence (the price in 5 minutes equals the price now)' }),
  window: Type.Union([Type.Literal('1h'), Type.Literal('1d'), Type.Literal('7d')], { description: 'Targets in (windows_end_ms - window, windows_end_ms]' }),
  n: Type.Integer({ minimum: 0, description: 'Resolved predictions in the window' }),
  mae: Nullable(Type.Number({ description: 'Mean absolute error (quote currency)' })),
  direction_accuracy: Nullable(
    Type.Number({
      description:
        'Of the predictions that call a direction (predicted price != last close), the share whose direction was right, 0 to 1; null (n/a) when none does: the persistence baseline never does',
    }),
  ),
  baseline_mae: Nullable(Type.Number({ description: "The persistence baseline's MAE over the same targets" })),
  mae_vs_baseline: Nullable(Type.Number({ description: 'mae / baseline_mae over the same targets; above 1 is worse than the baseline' })),
});

/** Predictions whose target passed without a candle to resolve them. */
export const UnresolvedSummary = Type.Object({
  count: Type.Integer({ minimum: 0 }),
  /** Up to 20, oldest target first. */
  recent: Type.Array(Type.Object({ pair: Type.String(), model_version: Type.String(), made_at_ms: Type.Integer(), target_ms: Type.Integer() })),
});

export const MonitoringSnapshot = Type.Object(
  {
    generated_at_ms: Type.Integer(),
    /** The end of the rolling windows: the newest resolved target (event time), null before the first. */
    windows_end_ms: Type.Union([Type.Integer(), Type.Null()]),
    /** Per pair, model version (baseline:persistence included) and window (1h, 1d, 7d). */
    accuracy: Type.Array(AccuracyRow),
    /** Newest row per pair (coin for sentiment) and kind; age by the wall clock. */
    freshness: Type.Array(
      Type.Object({
        key: Type.String(),
        kind: Type.Union([Type.Literal('candle'), Type.Literal('feature'), Type.Literal('sentiment'), Type.Literal('prediction')]),
        newest_ms: Nullable(Type.Integer()),
        age_s: Nullable(Type.Number()),
      }),
    ),
    unresolved: UnresolvedSummary,
    dead_letters: Type.Object({ total: Type.Integer({ minimum: 0 }), last_10m: Type.Integer({ minimum: 0 }), by_topic: Type.Record(Type.String(), Type.Integer()) }),
    consumer_lag_max: Nullable(Type.Number()),
    llm_errors_per_min: Nullable(Type.Number()),
    alerts: Type.Array(
      Type.Object({
        rule: Type.String(),
        key: Type.String(),
        severity: Type.Union([Type.Literal('warning'), Type.Literal('critical')]),
        state: Type.Union([Type.Literal('pending'), Type.Literal('firing')]),
        since_ms: Type.Integer(),
        value: Type.Number(),
        threshold: Type.Number(),
        summary: Type.String(),
      }),
    ),
  },
  { $id: 'MonitoringSnapshot', additionalProperties: false },
);
export type MonitoringSnapshot = Static<typeof MonitoringSnapshot>;

let current: (() => MonitoringSnapshot) | null = null;

/** The running monitor registers its snapshot function (embedded mode: same process as the API). */
export function setMonitoringSource(fn: (() => MonitoringSnapshot) | null): void {
  current = fn;
}

/** The snapshot of the monitor running in this process, or null if none runs here. */
export function monitoringSnapshot(): MonitoringSnapshot | null {
  return current ? current() : null;
}
