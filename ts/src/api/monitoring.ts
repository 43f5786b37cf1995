/**
 * Where GET /v1/monitoring gets the live prediction-error summary: rolling
 * MAE, directional accuracy and MAE vs the persistence baseline per pair,
 * model version and window (1h, 1d, 7d), and the unresolved predictions.
 *
 * 1. The monitor running in this process (monitoringSnapshot(): the embedded
 *    mode, where every service shares one process), when there is one.
 * 2. Otherwise, when the API has the prediction store (its own process in
 *    production), the same aggregates recomputed from the stored error rows
 *    by the monitor's own rules (RollingAggregates: the windows end at the
 *    newest resolved target of any pair; the direction of a baseline row uses
 *    the last close of a prediction for the same target, as the monitor does
 *    on a restart); the forecast figures (issue 18) likewise from the stored
 *    forecast-errors rows (ForecastAggregates). Unresolved predictions are known only to the monitor:
 *    `unresolved` is null from this source. Results are kept `cacheMs`.
 */
import type { PredictionStore } from '../stores/types.ts';
import { monitoringSnapshot, type MonitoringSnapshot } from '../monitor/monitoring-snapshot.ts';
import { RollingAggregates, WINDOWS, recordsOfStored, type ErrorRecord } from '../monitor/rolling-aggregates.ts';
import { ForecastAggregates } from '../monitor/forecast-aggregates.ts';

export interface MonitoringSummary {
  /** 'monitor': the live monitor of this process; 'store': recomputed from the prediction store. */
  source: 'monitor' | 'store';
  generated_at_ms: number;
  windows_end_ms: number | null;
  accuracy: MonitoringSnapshot['accuracy'];
  forecasts: MonitoringSnapshot['forecasts'];
  unresolved: MonitoringSnapshot['unresolved'] | null;
}

export interface MonitoringProvider {
  /** The summary of these pairs (rows of other pairs may be left out), or null when there is no source. */
  summary(pairs: readonly string[]): Promise<MonitoringSummary | null>;
}

/** Longest prediction horizon looked back for when reading the last closes of the predictions behind error rows. */
const MAX_HORIZON_MS = 86_400_000;

function fromSnapshot(s: MonitoringSnapshot, pairs: readonly string[]): MonitoringSummary {
  const wanted = new Set(pairs);
  return {
    source: 'monitor',
    generated_at_ms: s.generated_at_ms,
    windows_end_ms: s.windows_end_ms,
    accuracy: s.accuracy.filter((a) => wanted.has(a.pair)),
    forecasts: s.forecasts.filter((a) => wanted.has(a.pair)),
    unresolved: s.unresolved,
  };
}

/** The error records of one pair with targets in (from, to] (direction hits from the stored predictions). */
async function recordsOf(store: PredictionStore, pair: string, from: number, to: number): Promise<ErrorRecord[]> {
  const [errs, preds] = await Promise.all([
    store.errors.range({ pair }, { from_ms: from + 1, to_ms: to }),
    store.predictions.range({ pair }, { from_ms: from - MAX_HORIZON_MS, to_ms: to }),
  ]);
  return recordsOfStored(pair, errs, preds);
}

/**
 * The provider of the API service: the in-process monitor first, then the
 * prediction store (when given). Without a store and without a monitor in
 * this process, summary() is null.
 */
export function monitoringSource(store?: PredictionStore, opts: { cacheMs?: number; now?: () => number } = {}): MonitoringProvider {
  const now = opts.now ?? Date.now;
  const cacheMs = opts.cacheMs ?? 5_000;
  const cached = new Map<string, { at: number; value: Promise<MonitoringSummary> }>();

  const fromStore = async (s: PredictionStore, pairs: readonly string[]): Promise<MonitoringSummary> => {
    const generated = now();
    const [newest, newestForecasts] = await Promise.all([s.errors.latestAll(), s.forecastErrors.latestAll()]);
    if (newest.length === 0 && newestForecasts.length === 0) {
      return { source: 'store', generated_at_ms: generated, windows_end_ms: null, accuracy: [], forecasts: [], unresolved: null };
    }
    const end = Math.max(...newest.map((e) => e.target_ms), ...newestForecasts.map((e) => e.target_ms));
    const agg = new RollingAggregates();
    const fagg = new ForecastAggregates();
    for (const pair of pairs) {
      agg.add(await recordsOf(s, pair, end - WINDOWS['7d'], end));
      fagg.add(await s.forecastErrors.range({ pair }, { from_ms: end - WINDOWS['7d'] + 1, to_ms: end }));
    }
    return { source: 'store', generated_at_ms: generated, windows_end_ms: end, accuracy: agg.compute(end), forecasts: fagg.compute(end), unresolved: null };
  };

  return {
    async summary(pairs) {
      const live = monitoringSnapshot();
      if (live) return fromSnapshot(live, pairs);
      if (!store) return null;
      const key = [...pairs].sort().join(',');
      const hit = cached.get(key);
      const t = now();
      if (hit && t - hit.at < cacheMs) return hit.value;
      const value = fromStore(store, pairs);
      cached.set(key, { at: t, value });
      value.catch(() => {
        if (cached.get(key)?.value === value) cached.delete(key);
      });
      return value;
    },
  };
}
