/**
 * Rolling accuracy per pair and model version over the last hour, day and
 * week: MAE (quote currency), directional accuracy (over the predictions
 * that call a direction; null when none does, as for the persistence
 * baseline), and the ratio of the
 * model's MAE to the persistence baseline's MAE over the SAME targets (a
 * model that predicted only some targets is compared on those only).
 *
 * Windows end at `now_ms`, chosen by the caller; the monitor passes the newest
 * resolved target (event time), so a replay of old data gives the same numbers
 * as live. A window holds targets with now - length < target_ms <= now.
 * Records are keyed by (pair, model, target_ms): adding one twice keeps one.
 */
import type { Prediction, PredictionError } from '../contracts/messages.ts';
import { BASELINE_MODEL_VERSION, directionHit, type Resolution } from './error-resolution.ts';

export const WINDOWS = { '1h': 3_600_000, '1d': 86_400_000, '7d': 604_800_000 } as const;
export type WindowName = keyof typeof WINDOWS;

export interface ErrorRecord {
  pair: string;
  model_version: string;
  target_ms: number;
  abs_error: number;
  /** null when the prediction calls no direction (the baseline) or it is unknown (rebuilt from a store without the prediction). */
  direction_hit: boolean | null;
}

export interface RollingAggregate {
  pair: string;
  model_version: string;
  window: WindowName;
  /** Resolved predictions in the window. */
  n: number;
  mae: number | null;
  direction_accuracy: number | null;
  /** The baseline's MAE over the same targets. */
  baseline_mae: number | null;
  /** mae / baseline_mae; > 1 means worse than "the price stays where it is". */
  mae_vs_baseline: number | null;
}

/** Both records of a resolution. */
export function recordsOf(r: Resolution): ErrorRecord[] {
  return [
    { pair: r.error.pair, model_version: r.error.model_version, target_ms: r.error.target_ms, abs_error: Math.abs(r.error.error), direction_hit: r.direction_hit },
    { pair: r.baseline.pair, model_version: BASELINE_MODEL_VERSION, target_ms: r.baseline.target_ms, abs_error: Math.abs(r.baseline.error), direction_hit: r.baseline_direction_hit },
  ];
}

/**
 * The records of one pair's stored error rows (a restart, or a reader without
 * the monitor). The direction needs the last close of the prediction behind a
 * row: its own prediction for a model's row; for a baseline row, any
 * prediction for the same target (they share the close). Unknown: null.
 */
export function recordsOfStored(pair: string, errs: readonly PredictionError[], preds: readonly Prediction[]): ErrorRecord[] {
  const lastCloseOf = new Map<string, number>();
  const lastCloseAt = new Map<number, number>();
  for (const p of preds) {
    lastCloseOf.set(`${p.model_version}|${p.target_ms}`, p.last_close);
    lastCloseAt.set(p.target_ms, p.last_close);
  }
  return errs.map((e) => {
    const last = e.model_version === BASELINE_MODEL_VERSION ? lastCloseAt.get(e.target_ms) : lastCloseOf.get(`${e.model_version}|${e.target_ms}`);
    return {
      pair,
      model_version: e.model_version,
      target_ms: e.target_ms,
      abs_error: Math.abs(e.error),
      direction_hit: last === undefined ? null : directionHit(e.predicted_price, e.actual_price, last),
    };
  });
}

export class RollingAggregates {
  /** pair -> model -> target_ms -> record. */
  private readonly series = new Map<string, Map<string, Map<number, ErrorRecord>>>();
  private newest = -Infinity;
  /** `newest` at the last prune: the 7-day bound moves only when it does (a prune per add walked every pair's rows). */
  private prunedAt = -Infinity;

  add(records: readonly ErrorRecord[]): void {
    for (const r of records) {
      let byModel = this.series.get(r.pair);
      if (!byModel) this.series.set(r.pair, (byModel = new Map()));
      let byT = byModel.get(r.model_version);
      if (!byT) byModel.set(r.model_version, (byT = new Map()));
      byT.set(r.target_ms, r);
      if (r.target_ms > this.newest) this.newest = r.target_ms;
    }
    if (this.newest !== this.prunedAt) this.prune();
  }

  /** The newest target seen (the default `now`), or null. */
  newestTargetMs(): number | null {
    return this.newest === -Infinity ? null : this.newest;
  }

  private prune(): void {
    this.prunedAt = this.newest;
    const oldest = this.newest - WINDOWS['7d'];
    for (const byModel of this.series.values())
      for (const byT of byModel.values()) for (const t of byT.keys()) if (t <= oldest) byT.delete(t);
  }

  /** Aggregates of every pair (or of `only`) and model (baseline included), per window, sorted by pair, model, window. */
  compute(nowMs: number = this.newest, only?: ReadonlySet<string>): RollingAggregate[] {
    const out: RollingAggregate[] = [];
    for (const pair of [...this.series.keys()].filter((p) => !only || only.has(p)).sort()) {
      const byModel = this.series.get(pair) as Map<string, Map<number, ErrorRecord>>;
      const base = byModel.get(BASELINE_MODEL_VERSION);
      for (const model of [...byModel.keys()].sort()) {
        const byT = byModel.get(model) as Map<number, ErrorRecord>;
        for (const window of Object.keys(WINDOWS) as WindowName[]) {
          const from = nowMs - WINDOWS[window];
          let n = 0;
          let sum = 0;
          let hits = 0;
          let known = 0;
          let baseSum = 0;
          let baseN = 0;
          for (const r of byT.values()) {
            if (r.target_ms <= from || r.target_ms > nowMs) continue;
            n++;
            sum += r.abs_error;
            if (r.direction_hit !== null) {
              known++;
              if (r.direction_hit) hits++;
            }
            const b = base?.get(r.target_ms);
            if (b) {
              baseSum += b.abs_error;
              baseN++;
            }
          }
          const mae = n > 0 ? sum / n : null;
          // Ratio over matched targets only: sum of the model's errors where a baseline exists.
          let matchedSum = 0;
          if (baseN > 0 && baseN !== n) {
            for (const r of byT.values()) if (r.target_ms > from && r.target_ms <= nowMs && base?.has(r.target_ms)) matchedSum += r.abs_error;
          } else matchedSum = sum;
          const baselineMae = baseN > 0 ? baseSum / baseN : null;
          out.push({
            pair,
            model_version: model,
            window,
            n,
            mae,
            direction_accuracy: known > 0 ? hits / known : null,
            baseline_mae: baselineMae,
            mae_vs_baseline: baseN > 0 && baseSum > 0 ? matchedSum / baseSum : null,
          });
        }
      }
    }
    return out;
  }
}

/**
 * `cache` with the rows of the pairs in `only` replaced by `fresh` (both sorted by pair, the order within a pair
 * kept): the monitor recomputes only the pairs whose rows changed while the windows' end stays where it was.
 */
export function mergeByPair<T extends { pair: string }>(cache: readonly T[], fresh: readonly T[], only: ReadonlySet<string>): T[] {
  return [...cache.filter((r) => !only.has(r.pair)), ...fresh].sort((a, b) => (a.pair < b.pair ? -1 : a.pair > b.pair ? 1 : 0));
}
