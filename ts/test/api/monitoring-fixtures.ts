/**
 * Fixtures of the GET /v1/monitoring tests: real BTC/USD minutes, two models
 * and the persistence baseline written to a prediction store, and the summary
 * recomputed naively from those rows (the reference the route is held to).
 */
import assert from 'node:assert/strict';
import type { Prediction, PredictionError } from '../../src/contracts/messages.ts';
import type { Stores } from '../../src/stores/index.ts';
import type { ForecastError } from '../../src/stores/types.ts';
import { resolveForecasts } from '../../src/monitor/forecast-resolution.ts';
import type { FastifyInstance } from 'fastify';
import { buildApi, type ApiDeps } from '../../src/api/api-plugin.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import { PAIRS, errorsFrom, predictionsFrom, quietLogger, realCandles } from './helpers.ts';

export const BASELINE = 'baseline:persistence';
export const WINDOW_MS = { '1h': 3_600_000, '1d': 86_400_000, '7d': 604_800_000 } as const;
export type Window = keyof typeof WINDOW_MS;

/** The API with the given dependencies (served pairs: BTC/USD, ETH/USD). */
export async function make(over: Partial<ApiDeps> = {}): Promise<FastifyInstance> {
  return buildApi({ logger: quietLogger(), cache: new LiveCache({ pairs: PAIRS }), history: { newestFirst: async () => [] }, ...over });
}
export const json = (r: { body: string }) => JSON.parse(r.body) as Record<string, any>;

export interface Expected {
  pair: string;
  model_version: string;
  window: Window;
  n: number;
  mae: number | null;
  direction_accuracy: number | null;
  baseline_mae: number | null;
  mae_vs_baseline: number | null;
}

/**
 * The summary of one pair, recomputed naively from the inserted rows: for
 * each model and window, the rows with end − window < target ≤ end; MAE from
 * |predicted − actual|; a direction hit when predicted and actual move the
 * same way from the prediction's last close (the baseline "predicts" no
 * move); the baseline's MAE over the model's targets that have a baseline row.
 */
export function expected(pair: string, errs: PredictionError[], preds: Prediction[], end: number): Expected[] {
  const lastClose = new Map(preds.map((p) => [p.target_ms, p.last_close]));
  const sign = (x: number) => Math.sign(x);
  const models = [...new Set(errs.map((e) => e.model_version))].sort();
  const out: Expected[] = [];
  for (const model of models) {
    for (const window of ['1h', '1d', '7d'] as Window[]) {
      const inWindow = (e: PredictionError) => e.pair === pair && e.target_ms > end - WINDOW_MS[window] && e.target_ms <= end;
      const rows = errs.filter((e) => e.model_version === model && inWindow(e));
      const base = new Map(errs.filter((e) => e.model_version === BASELINE && inWindow(e)).map((e) => [e.target_ms, e]));
      const abs = (e: PredictionError) => Math.abs(e.predicted_price - e.actual_price);
      // Direction: only the rows that call one (predicted != last close) count; the baseline never does.
      const called = rows.filter((e) => sign(e.predicted_price - (lastClose.get(e.target_ms) as number)) !== 0);
      const hits = called.map((e) => {
        const last = lastClose.get(e.target_ms) as number;
        return sign(e.predicted_price - last) === sign(e.actual_price - last);
      });
      const matched = rows.filter((e) => base.has(e.target_ms));
      const baseSum = matched.reduce((s, e) => s + abs(base.get(e.target_ms)!), 0);
      out.push({
        pair,
        model_version: model,
        window,
        n: rows.length,
        mae: rows.length ? rows.reduce((s, e) => s + abs(e), 0) / rows.length : null,
        direction_accuracy: called.length ? hits.filter(Boolean).length / called.length : null,
        baseline_mae: matched.length ? baseSum / matched.length : null,
        mae_vs_baseline: matched.length && baseSum > 0 ? matched.reduce((s, e) => s + abs(e), 0) / baseSum : null,
      });
    }
  }
  return out;
}

export function assertClose(actual: Record<string, unknown>[], want: Expected[]): void {
  assert.equal(actual.length, want.length, 'one row per model and window');
  const key = (r: { model_version: unknown; window: unknown }) => `${r.model_version}|${r.window}`;
  const byKey = new Map(actual.map((r) => [key(r as { model_version: unknown; window: unknown }), r]));
  for (const w of want) {
    const a = byKey.get(key(w));
    assert.ok(a, `row ${key(w)}`);
    assert.equal(a.pair, w.pair);
    assert.equal(a.n, w.n, `n of ${key(w)}`);
    for (const f of ['mae', 'direction_accuracy', 'baseline_mae', 'mae_vs_baseline'] as const) {
      const x = a[f] as number | null;
      const y = w[f];
      if (y === null) assert.equal(x, null, `${f} of ${key(w)}`);
      else assert.ok(x !== null && Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y)), `${f} of ${key(w)}: ${x} vs ${y}`);
    }
  }
}

export interface MonitoringRows {
  preds: Prediction[];
  errs: PredictionError[];
  /** The newest target of the error rows (where the windows end). */
  end: number;
}

/**
 * Write `minutes` real BTC/USD minutes' worth of rows: momentum predictions
 * (v1), a drift model (v2) that predicted only every third target, their
 * errors and the persistence baseline's errors.
 */
export async function writeMonitoringRows(stores: Stores, minutes: number): Promise<MonitoringRows> {
  const candles = realCandles('BTC/USD', minutes);
  const momentum = predictionsFrom(candles, 'v1');
  const drift = momentum
    .filter((_, i) => i % 3 === 0)
    .map((p) => ({ ...p, model_version: 'v2', model_name: 'drift', predicted_price: p.last_close * 1.0005 }));
  const preds = [...momentum, ...drift];
  const baseline = momentum.map((p) => ({ ...p, predicted_price: p.last_close, model_version: BASELINE }));
  const errs = [...errorsFrom(momentum, candles), ...errorsFrom(drift, candles), ...errorsFrom(baseline, candles)];
  const wp = await stores.predictions.predictions.write(preds);
  const we = await stores.predictions.errors.write(errs);
  assert.equal(wp.rejected.length + we.rejected.length, 0);
  return { preds, errs, end: Math.max(...errs.map((e) => e.target_ms)) };
}

// ---- forecasts (issue 18) -----------------------------------------------------------------

export const FORECAST_BASELINE = { range: 'baseline:gaussian_ewma', volatility: 'baseline:vol_persistence', direction: 'baseline:base_rate' } as const;

/**
 * Forecast rows of real minutes: each momentum prediction (the price rows'
 * made_at times) also carries a fixed ±6 / ±9 bp range, a volatility and a
 * p_up, resolved with their live baselines (the monitor's resolution, tested
 * on its own against a hand computation); the baselines are kept only for
 * every other target, so "the same targets" matters. Written to the store.
 */
export async function writeForecastRows(stores: Stores, minutes: number): Promise<ForecastError[]> {
  const candles = realCandles('BTC/USD', minutes);
  const closeAt = new Map(candles.map((c) => [c.window_end_ms, c.close]));
  const rows: ForecastError[] = [];
  predictionsFrom(candles, 'v1').forEach((p, i) => {
    const L = p.last_close;
    const f: Prediction = {
      ...p,
      volatility: { value: 0.0008 + (i % 7) * 0.0001, model_version: 'vol-1' },
      range: { q05: -9e-4, q10: -6e-4, q50: 0, q90: 6e-4, q95: 9e-4, lo80: L * Math.exp(-6e-4), hi80: L * Math.exp(6e-4), lo90: L * Math.exp(-9e-4), hi90: L * Math.exp(9e-4), calibrated: false, m80: 1, m90: 1, model_version: 'range-1' },
      direction: { p_up: 0.4 + (i % 5) * 0.05, model_version: 'dir-1' },
    };
    const r = resolveForecasts(f, (ms) => closeAt.get(ms), 60);
    if (!r) return;
    rows.push(...r.rows);
    if (i % 2 === 0) rows.push(...r.baselines);
  });
  const w = await stores.predictions.forecastErrors.write(rows);
  assert.equal(w.rejected.length, 0, JSON.stringify(w.rejected[0]));
  return rows;
}

/** The forecast figures recomputed naively from the rows: per target, model and window; the baseline over the model's targets that have one. */
export function expectedForecasts(pair: string, rows: ForecastError[], end: number): Record<string, number | string | null>[] {
  const out: Record<string, number | string | null>[] = [];
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const num = (b: boolean | undefined) => (b ? 1 : 0);
  for (const target of ['direction', 'range', 'volatility'] as const) {
    const base = FORECAST_BASELINE[target];
    const primary = (r: ForecastError) => (target === 'range' ? r.interval_score90_bp! : target === 'volatility' ? r.qlike! : r.brier!);
    const models = [...new Set(rows.filter((r) => r.pair === pair && r.target === target).map((r) => r.model_version))].sort();
    for (const model of models)
      for (const window of ['1h', '1d', '7d'] as Window[]) {
        const inW = (r: ForecastError) => r.pair === pair && r.target === target && r.target_ms > end - WINDOW_MS[window] && r.target_ms <= end;
        const mine = rows.filter((r) => r.model_version === model && inW(r));
        const baseAt = new Map(rows.filter((r) => r.model_version === base && inW(r)).map((r) => [r.target_ms, r]));
        const matched = model === base ? [] : mine.filter((r) => baseAt.has(r.target_ms));
        const bs = matched.map((r) => baseAt.get(r.target_ms)!);
        const sumB = bs.reduce((s, r) => s + primary(r), 0);
        out.push({
          pair,
          target,
          model_version: model,
          window,
          n: mine.length,
          coverage80: target === 'range' ? mean(mine.map((r) => num(r.hit80))) : null,
          coverage90: target === 'range' ? mean(mine.map((r) => num(r.hit90))) : null,
          interval_score90_bp: target === 'range' ? mean(mine.map((r) => r.interval_score90_bp!)) : null,
          qlike: target === 'volatility' ? mean(mine.map((r) => r.qlike!)) : null,
          brier: target === 'direction' ? mean(mine.map((r) => r.brier!)) : null,
          baseline_n: matched.length,
          baseline_coverage90: target === 'range' ? mean(bs.map((r) => num(r.hit90))) : null,
          score_vs_baseline: matched.length && sumB > 0 ? matched.reduce((s, r) => s + primary(r), 0) / sumB : null,
        });
      }
  }
  return out;
}

export function assertForecastsClose(actual: Record<string, unknown>[], want: Record<string, number | string | null>[]): void {
  assert.equal(actual.length, want.length, 'one row per target, model and window');
  const key = (r: Record<string, unknown>) => `${r.target}|${r.model_version}|${r.window}`;
  const byKey = new Map(actual.map((r) => [key(r), r]));
  for (const w of want) {
    const a = byKey.get(key(w));
    assert.ok(a, `row ${key(w)}`);
    for (const [f, y] of Object.entries(w)) {
      const x: unknown = a[f];
      if (y === null || typeof y === 'string') assert.equal(x, y, `${f} of ${key(w)}`);
      else assert.ok(typeof x === 'number' && Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y)), `${f} of ${key(w)}: ${x} vs ${y}`);
    }
  }
}
