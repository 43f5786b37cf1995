/**
 * The monitoring snapshot: what GET /v1/monitoring serves and the dashboard's
 * error and freshness panels show. One schema gives the type and the
 * validator (fastify response schema).
 */
import { Type, type Static, type TSchema } from '../contracts/typebox.ts';

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

const Win = () => Type.Union([Type.Literal('1h'), Type.Literal('1d'), Type.Literal('7d')], { description: 'Targets in (windows_end_ms - window, windows_end_ms]' });

/** Rolling figures of the resolved forecasts of one pair, target, model version and window (ts/src/monitor/forecast-aggregates.ts). */
export const ForecastAccuracyRow = Type.Object({
  pair: Type.String(),
  target: Type.Union([Type.Literal('range'), Type.Literal('volatility'), Type.Literal('direction')]),
  model_version: Type.String({
    description: 'The model version, or its live baseline: baseline:gaussian_ewma (range), baseline:vol_persistence (volatility), baseline:base_rate (direction)',
  }),
  window: Win(),
  n: Type.Integer({ minimum: 0, description: 'Resolved forecasts in the window' }),
  coverage80: Nullable(Type.Number({ description: 'range: share of actual prices inside the served 80% interval (nominal 0.8)' })),
  coverage90: Nullable(Type.Number({ description: 'range: share inside the served 90% interval (nominal 0.9)' })),
  pinball_bp: Nullable(Type.Number({ description: 'range: mean pinball loss over the 5/10/50/90/95% quantiles, basis points of log return' })),
  interval_score80_bp: Nullable(Type.Number({ description: 'range: mean Winkler interval score of the 80% interval (bp of log return)' })),
  interval_score90_bp: Nullable(Type.Number({ description: 'range: mean Winkler interval score of the 90% interval (bp of log return)' })),
  width90_bp: Nullable(Type.Number({ description: 'range: mean width of the 90% interval (bp of log return)' })),
  qlike: Nullable(Type.Number({ description: 'volatility: mean QLIKE of the variance' })),
  rmse_log_vol: Nullable(Type.Number({ description: 'volatility: RMSE of ln volatility' })),
  brier: Nullable(Type.Number({ description: 'direction: mean Brier score' })),
  baseline_model_version: Nullable(Type.String({ description: "The live baseline this row is compared with; null for a baseline's own row" })),
  baseline_n: Type.Integer({ minimum: 0, description: "This row's targets that the baseline resolved too" }),
  baseline_coverage80: Nullable(Type.Number()),
  baseline_coverage90: Nullable(Type.Number()),
  baseline_interval_score90_bp: Nullable(Type.Number()),
  baseline_qlike: Nullable(Type.Number()),
  baseline_brier: Nullable(Type.Number()),
  score_vs_baseline: Nullable(
    Type.Number({ description: "Primary score (range: interval score 90; volatility: QLIKE; direction: Brier) / the baseline's on the same targets; above 1 is worse" }),
  ),
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
    /** Resolved forecasts (issue 18) per pair, target, model version (baselines included) and window. */
    forecasts: Type.Array(ForecastAccuracyRow),
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
