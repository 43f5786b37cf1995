/**
 * Rolling figures of the resolved forecasts (issue 18) per pair, target,
 * model version and window (1h, 1d, 7d), beside the target's live baseline
 * over the SAME target times (a model that resolved only some targets is
 * compared on those only):
 * - range: observed coverage of the 80% and 90% intervals (share of hits),
 *   mean pinball loss, mean interval scores and 90% width (bp of log return);
 * - volatility: mean QLIKE, RMSE of ln volatility;
 * - direction: mean Brier score.
 * `score_vs_baseline` is the ratio of the target's primary score (interval
 * score 90 / QLIKE / Brier) to the baseline's on the same targets: above 1,
 * the model is worse than its baseline.
 *
 * Windows end at `now_ms` chosen by the caller (the monitor: the newest
 * resolved target, event time) and hold target_ms in (now - length, now].
 * Rows are keyed by (pair, target, model, target_ms): adding one twice keeps one.
 */
import type { ForecastError, ForecastTarget } from '../stores/types.ts';
import { FORECAST_BASELINES } from './forecast-resolution.ts';
import { WINDOWS, type WindowName } from './rolling-aggregates.ts';

export interface ForecastAggregate {
  pair: string;
  target: ForecastTarget;
  model_version: string;
  window: WindowName;
  n: number;
  coverage80: number | null;
  coverage90: number | null;
  pinball_bp: number | null;
  interval_score80_bp: number | null;
  interval_score90_bp: number | null;
  width90_bp: number | null;
  qlike: number | null;
  rmse_log_vol: number | null;
  brier: number | null;
  /** The baseline this row is compared with (null for a baseline's own row). */
  baseline_model_version: string | null;
  /** Targets of this row that the baseline also resolved. */
  baseline_n: number;
  baseline_coverage80: number | null;
  baseline_coverage90: number | null;
  baseline_interval_score90_bp: number | null;
  baseline_qlike: number | null;
  baseline_brier: number | null;
  /** Primary score / the baseline's on the same targets (interval score 90, QLIKE, Brier); > 1 is worse. */
  score_vs_baseline: number | null;
}

/** Nominal coverage of each interval level. */
export const NOMINAL = { 80: 0.8, 90: 0.9 } as const;

const PRIMARY: Record<ForecastTarget, keyof ForecastError> = { range: 'interval_score90_bp', volatility: 'qlike', direction: 'brier' };

class Mean {
  s = 0;
  n = 0;
  add(v: number | boolean | undefined): void {
    if (v === undefined) return;
    this.s += typeof v === 'boolean' ? (v ? 1 : 0) : v;
    this.n++;
  }
  get(): number | null {
    return this.n > 0 ? this.s / this.n : null;
  }
}

export class ForecastAggregates {
  /** pair -> target -> model -> target_ms -> row. */
  private readonly series = new Map<string, Map<ForecastTarget, Map<string, Map<number, ForecastError>>>>();
  private newest = -Infinity;
  /** `newest` at the last prune (the 7-day bound moves only when it does). */
  private prunedAt = -Infinity;

  add(rows: readonly ForecastError[]): void {
    for (const r of rows) {
      let byTarget = this.series.get(r.pair);
      if (!byTarget) this.series.set(r.pair, (byTarget = new Map()));
      let byModel = byTarget.get(r.target);
      if (!byModel) byTarget.set(r.target, (byModel = new Map()));
      let byT = byModel.get(r.model_version);
      if (!byT) byModel.set(r.model_version, (byT = new Map()));
      byT.set(r.target_ms, r);
      if (r.target_ms > this.newest) this.newest = r.target_ms;
    }
    if (this.newest === this.prunedAt) return;
    this.prunedAt = this.newest;
    const oldest = this.newest - WINDOWS['7d'];
    for (const byTarget of this.series.values())
      for (const byModel of byTarget.values()) for (const byT of byModel.values()) for (const t of byT.keys()) if (t <= oldest) byT.delete(t);
  }

  newestTargetMs(): number | null {
    return this.newest === -Infinity ? null : this.newest;
  }

  /** Every pair (or those in `only`), target, model (baselines included) and window; sorted by pair, target, model, window. */
  compute(nowMs: number = this.newest, only?: ReadonlySet<string>): ForecastAggregate[] {
    const out: ForecastAggregate[] = [];
    for (const pair of [...this.series.keys()].filter((p) => !only || only.has(p)).sort()) {
      const byTarget = this.series.get(pair)!;
      for (const target of [...byTarget.keys()].sort()) {
        const byModel = byTarget.get(target)!;
        const baseName = FORECAST_BASELINES[target];
        const base = byModel.get(baseName);
        for (const model of [...byModel.keys()].sort()) {
          const byT = byModel.get(model)!;
          const isBase = model === baseName;
          for (const window of Object.keys(WINDOWS) as WindowName[]) {
            const from = nowMs - WINDOWS[window];
            const m = { c80: new Mean(), c90: new Mean(), pin: new Mean(), is80: new Mean(), is90: new Mean(), w90: new Mean(), q: new Mean(), se: new Mean(), b: new Mean() };
            const bm = { c80: new Mean(), c90: new Mean(), is90: new Mean(), q: new Mean(), b: new Mean() };
            let primary = 0;
            let basePrimary = 0;
            let n = 0;
            let bn = 0;
            for (const r of byT.values()) {
              if (r.target_ms <= from || r.target_ms > nowMs) continue;
              n++;
              m.c80.add(r.hit80);
              m.c90.add(r.hit90);
              m.pin.add(r.pinball_bp);
              m.is80.add(r.interval_score80_bp);
              m.is90.add(r.interval_score90_bp);
              m.w90.add(r.width90_bp);
              m.q.add(r.qlike);
              m.se.add(r.sq_log_vol_error);
              m.b.add(r.brier);
              const b = isBase ? undefined : base?.get(r.target_ms);
              if (!b) continue;
              bn++;
              bm.c80.add(b.hit80);
              bm.c90.add(b.hit90);
              bm.is90.add(b.interval_score90_bp);
              bm.q.add(b.qlike);
              bm.b.add(b.brier);
              primary += (r[PRIMARY[target]] as number | undefined) ?? 0;
              basePrimary += (b[PRIMARY[target]] as number | undefined) ?? 0;
            }
            const se = m.se.get();
            out.push({
              pair,
              target,
              model_version: model,
              window,
              n,
              coverage80: m.c80.get(),
              coverage90: m.c90.get(),
              pinball_bp: m.pin.get(),
              interval_score80_bp: m.is80.get(),
              interval_score90_bp: m.is90.get(),
              width90_bp: m.w90.get(),
              qlike: m.q.get(),
              rmse_log_vol: se === null ? null : Math.sqrt(se),
              brier: m.b.get(),
              baseline_model_version: isBase ? null : baseName,
              baseline_n: bn,
              baseline_coverage80: bm.c80.get(),
              baseline_coverage90: bm.c90.get(),
              baseline_interval_score90_bp: bm.is90.get(),
              baseline_qlike: bm.q.get(),
              baseline_brier: bm.b.get(),
              score_vs_baseline: bn > 0 && basePrimary > 0 ? primary / basePrimary : null,
            });
          }
        }
      }
    }
    return out;
  }
}
