/**
 * The alert signals of issue 18.5 from the monitor's state (pure):
 * interval coverage off nominal, volatility model vs its baseline, drift of
 * the absolute errors, expired production models. The rules that read them
 * are in alert-rules.ts (coverage_off, volatility_worse_than_baseline,
 * error_drift, model_expired).
 */
import type { Signal } from './alert-rules.ts';
import { NOMINAL, type ForecastAggregate } from './forecast-aggregates.ts';
import { isForecastBaseline } from './forecast-resolution.ts';
import type { ModelAge } from './model-expiry.ts';

/** Resolved intervals a coverage figure needs before it is compared with its nominal level. */
export const COVERAGE_MIN_N = 30;

export function forecastSignals(
  aggregates: readonly ForecastAggregate[],
  drift: readonly { key: string; detections: number }[],
  ages: readonly ModelAge[],
): Signal[] {
  const out: Signal[] = [];
  for (const a of aggregates) {
    if (isForecastBaseline(a.model_version)) continue;
    if (a.target === 'range' && a.n >= COVERAGE_MIN_N) {
      for (const level of [80, 90] as const) {
        const c = level === 80 ? a.coverage80 : a.coverage90;
        if (c !== null) out.push({ signal: 'coverage_error_points', key: `${a.pair} ${a.model_version} ${level}`, value: Math.abs(c - NOMINAL[level]) * 100, window: a.window });
      }
    }
    if (a.target === 'volatility' && a.score_vs_baseline !== null) out.push({ signal: 'qlike_vs_baseline', key: `${a.pair} ${a.model_version}`, value: a.score_vs_baseline, window: a.window });
  }
  for (const d of drift) out.push({ signal: 'error_drift', key: d.key, value: d.detections });
  for (const m of ages) out.push({ signal: 'model_expired_hours', key: `${m.pair} ${m.family} ${m.version}`, value: m.expired ? m.over_hours : 0 });
  return out;
}
