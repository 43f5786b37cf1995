/** Metrics of the monitor (prom-client default registry; each created once per process). */
import { Counter, Gauge, register } from 'prom-client';

function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return (register.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames });
}
function gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  return (register.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge({ name, help, labelNames });
}

export const errorsResolved = () =>
  counter('tickcast_monitor_predictions_resolved_total', 'Predictions resolved against the actual close at their target', ['pair', 'model_version'] as const);
export const unresolvedTotal = () =>
  counter('tickcast_monitor_predictions_unresolved_total', 'Predictions whose target passed without a candle (reported once each)', ['pair'] as const);
export const unresolvedNow = () => gauge('tickcast_monitor_predictions_unresolved', 'Predictions currently unresolved (target passed, no candle)', ['pair'] as const);
export const rollingMae = () =>
  gauge('tickcast_monitor_mae_quote', 'Rolling mean absolute error in quote currency, per pair, model version and window', ['pair', 'model_version', 'window'] as const);
export const rollingDirection = () =>
  gauge('tickcast_monitor_direction_accuracy_ratio', 'Rolling directional accuracy (0..1), per pair, model version and window', ['pair', 'model_version', 'window'] as const);
export const rollingVsBaseline = () =>
  gauge('tickcast_monitor_mae_vs_baseline_ratio', "Rolling MAE divided by the persistence baseline's MAE on the same targets", ['pair', 'model_version', 'window'] as const);
export const freshnessAge = () =>
  gauge('tickcast_monitor_freshness_age_seconds', 'Age (wall clock) of the newest row per pair or coin and kind (candle, feature, sentiment, prediction)', ['key', 'kind'] as const);
export const deadLettersSeen = () => counter('tickcast_monitor_dead_letters_seen_total', 'Dead letters read by the monitor, per source topic', ['topic'] as const);
export const alertFiring = () => gauge('tickcast_monitor_alert_firing', '1 while an alert rule fires for a series key', ['rule', 'key'] as const);
export const notificationsSent = () =>
  counter('tickcast_monitor_notifications_total', 'Alert notifications, per channel and outcome (delivered, failed)', ['channel', 'outcome'] as const);
export const forecastCoverage = () =>
  gauge(
    'tickcast_monitor_forecast_coverage_ratio',
    'Rolling observed coverage (0..1) of the served 80% and 90% price intervals, per pair, model version (live baseline baseline:gaussian_ewma included), window and level',
    ['pair', 'model_version', 'window', 'level'] as const,
  );
export const forecastScore = () =>
  gauge(
    'tickcast_monitor_forecast_score',
    'Rolling mean score of the resolved forecasts per pair, target, model version (live baselines included), window and metric (pinball_bp, interval_score80_bp, interval_score90_bp, qlike, rmse_log_vol, brier)',
    ['pair', 'target', 'model_version', 'window', 'metric'] as const,
  );
export const forecastVsBaseline = () =>
  gauge(
    'tickcast_monitor_forecast_score_vs_baseline_ratio',
    "Rolling primary score (range: interval score 90, volatility: QLIKE, direction: Brier) divided by the live baseline's on the same targets",
    ['pair', 'target', 'model_version', 'window'] as const,
  );
export const holesFilledTotal = () =>
  counter('tickcast_monitor_holes_filled_total', 'Candles missing from the monitor\'s stream (a rebalance) read back from the feature store, per pair', ['pair'] as const);
export const forecastsResolved = () =>
  counter('tickcast_monitor_forecasts_resolved_total', 'Forecasts resolved against the candles up to their target, per pair and target', ['pair', 'target'] as const);
