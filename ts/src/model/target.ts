/**
 * What a prediction target is. Each target is one file in targets/ and one
 * line in targets.ts; the trainer, the walk-forward evaluation, the registry
 * metadata, the CLI and the predictor read everything target-specific here:
 * - how its label is made from candles, point in time (`label`: only the
 *   closes of the windows ending in [t, t + horizon]);
 * - which input columns it uses (technical + sentiment, plus the context
 *   features of context-features.ts when `usesContext`);
 * - how it is fitted on a backend and loaded back from its model text;
 * - its outputs, and how they become the published values;
 * - the metrics that judge it, the baselines it is compared with on the same
 *   folds, and the promotion rule.
 */
import type { ModelKind, ModelParams } from './backends.ts';

/** The rows a target is fitted and scored on (the training Dataset has these fields). */
export interface TargetData {
  pair: string;
  horizonS: number;
  featureNames: string[];
  rows: number;
  /** Row-major rows x featureNames.length. */
  x: Float64Array;
  /** The label of each row. */
  y: Float64Array;
  /** Feature time t of each row (window_end_ms), ascending. */
  times: number[];
  closes: number[];
  futureCloses: number[];
}

/** A fitted model of a target: one feature row in, the target's outputs out. */
export interface TargetModel {
  readonly kind: ModelKind;
  readonly featureNames: readonly string[];
  /** The outputs of one row (target.outputs order), written into `out`. */
  predict(row: Float64Array, out: Float64Array): Float64Array;
  modelText(): string;
  importance(): number[];
  /** Boosting rounds kept (trees, early stopping) or null. */
  readonly iterations: number | null;
}

/** A baseline: fitted on a fold's training rows, then outputs for any row of the data. */
export interface Baseline {
  readonly name: string;
  readonly description: string;
  fit(data: TargetData, train: readonly number[]): (row: number, out: Float64Array) => void;
}

export type Scores = Record<string, number>;

export interface Decision {
  promote: boolean;
  reason: string;
}

export interface FitOptions {
  /** Share of the training rows held out at the end (after a horizon gap) for early stopping / calibration. */
  holdoutFraction: number;
}

export interface Target {
  /** The registry's `target` value of a version. */
  readonly name: string;
  /** One production model per (pair, family); `price` for the point forecast (log_return and price). */
  readonly family: string;
  readonly description: string;
  /** Whether the input row ends with the context features. */
  readonly usesContext: boolean;
  /** Output names, in order (e.g. q05..q95). */
  readonly outputs: readonly string[];
  /** The main metric (lower is better) and its label in reports. */
  readonly primaryMetric: string;
  /**
   * The label of the row at t, from the closes of the windows ending at
   * t .. t + horizon (closeAt returns undefined for a missing window); null
   * when it cannot be made (dropped as no_target).
   */
  label(closeAt: (end_ms: number) => number | undefined, t_ms: number, horizonS: number, intervalS: number): number | null;
  /** Parameter sets the trainer compares on the folds (the first is the default). */
  candidates(kind: ModelKind): ModelParams[];
  fit(data: TargetData, rows: readonly number[], kind: ModelKind, params: ModelParams, opts: FitOptions): TargetModel;
  load(kind: ModelKind, text: string, featureNames: readonly string[]): TargetModel;
  readonly baselines: readonly Baseline[];
  /** Metrics of outputs (one Float64Array per row) on these rows. */
  score(outputs: readonly Float64Array[], data: TargetData, rows: readonly number[]): Scores;
  /** Lower is better: how the trainer ranks candidates (may penalize, e.g. coverage out of tolerance). */
  rank(scores: Scores): number;
  /** The promotion rule against the baselines (by name) on the same folds. */
  decide(model: Scores, baselines: Record<string, Scores>): Decision;
  /** Published values of one prediction for a row whose close is `close`. */
  publish(outputs: Float64Array, close: number): Record<string, number>;
}

export const fmt = (x: number): string => (Number.isFinite(x) ? x.toPrecision(6) : String(x));
