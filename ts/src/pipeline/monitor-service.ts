/**
 * The monitor service: `candles` + `predictions` -> `prediction-errors` (and
 * the prediction store's errors series), rolling accuracy metrics, system
 * health, alert rules and notifications. The logic lives in ts/src/monitor/
 * (pure functions and small state machines); this file is wiring.
 *
 * Restart-safe: on start (on Kafka: at each group join, see start) it reads the predictions of the look-back window
 * from the prediction store, skips those whose error row exists, and
 * resolves the rest against the feature store's candles (or reports them
 * unresolved); redelivered messages of resolved predictions are ignored.
 * Error rows are upserted by natural key, so even a crash between the store
 * write and the publish never duplicates a row.
 */
import { writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Candle, Prediction, PredictionError } from '../contracts/messages.ts';
import { Topics, type TopicKey } from '../contracts/messages.ts';
import type { Service, ServiceContext } from '../services/runner.ts';
import type { Subscription } from '../bus/index.ts';
import type { ForecastError, Stores } from '../stores/types.ts';
import { BASE_RATE_WINDOW_MS, ForecastResolver, hasForecast, type ForecastResolution } from '../monitor/forecast-resolution.ts';
import { CONTEXT_RETURNS } from '../model/context-features.ts';
import { waitStoreVisible } from './store-visible.ts';
import { ForecastAggregates, type ForecastAggregate } from '../monitor/forecast-aggregates.ts';
import { DriftDetectors, type PageHinkleyOptions } from '../monitor/drift-detector.ts';
import { forecastSignals } from '../monitor/forecast-signals.ts';
import { productionAges, type ModelAge } from '../monitor/model-expiry.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { registryOf } from '../registry/index.ts';
import { ErrorResolver, BASELINE_MODEL_VERSION, hasPrice, type Resolution } from '../monitor/error-resolution.ts';
import { mergeByPair, RollingAggregates, recordsOf, recordsOfStored, type RollingAggregate } from '../monitor/rolling-aggregates.ts';
import { AlertEngine, DEFAULT_RULES, type AlertRule, type Signal } from '../monitor/alert-rules.ts';
import { Notifier, type NotifierOptions } from '../monitor/notifiers.ts';
import { readFreshness, counterTotal, maxConsumerLag, RateOf, type Freshness } from '../monitor/health.ts';
import { setMonitoringSource, type MonitoringSnapshot } from '../monitor/monitoring-snapshot.ts';
import {
  alertFiring,
  deadLettersSeen,
  errorsResolved,
  forecastCoverage,
  forecastScore,
  forecastsResolved,
  forecastVsBaseline,
  freshnessAge,
  holesFilledTotal,
  rollingDirection,
  rollingMae,
  rollingVsBaseline,
  unresolvedNow,
  unresolvedTotal,
} from '../monitor/monitor-metrics.ts';


export interface MonitorServiceOptions {
  /** Pairs whose freshness is watched (pairs seen in predictions are added). */
  pairs: readonly string[];
  /** Candle interval of the actual prices (seconds). Default 60. */
  intervalS?: number;
  /** Wait after a target (pair event time) before reporting a prediction unresolved. Default 120 000 ms. */
  unresolvedAfterMs?: number;
  /** How far back a restart looks for unresolved predictions and rebuilds the rolling windows. Default 7 days. */
  lookbackMs?: number;
  /** Health and alert check period. Default 15 000 ms; 0 = no timer (tests call check()). */
  checkIntervalMs?: number;
  /** Alert rules (default DEFAULT_RULES). */
  rules?: readonly AlertRule[];
  /** Notification channels (Slack, Discord, generic webhook) and the dashboard link. */
  notify?: Omit<NotifierOptions, 'logger'>;
  /** Where the latest snapshot is written as JSON after each check (e.g. <dataDir>/monitor/snapshot.json). */
  stateFile?: string;
  /** Consumer group (default `monitor`; dead letters use `<group>-dlq`). */
  group?: string;
  /** Wall clock (tests). */
  clock?: () => number;
  /**
   * Expired production models (alert model_expired): the maximum age in hours
   * (0 or absent = off), the registry (default: the configuration's), how
   * often it is read (default 300 000 ms).
   */
  modelExpiry?: { maxAgeHours: number; registry?: ModelRegistry; checkEveryMs?: number };
  /**
   * How long (wall time) a forecast waits for a candle missing from this instance's view (a hole, see
   * forecast-resolution.ts) to be read from the feature store before it resolves without it. Default 30 000 ms.
   */
  holeHoldMs?: number;
  /** Page-Hinkley settings of the error drift detectors (drift-detector.ts) and how long a detection holds the alert (default 1 h, event time). */
  drift?: PageHinkleyOptions & { holdMs?: number };
}

export interface MonitorService extends Service {
  /** The current monitoring snapshot (what GET /v1/monitoring serves). */
  snapshot(): MonitoringSnapshot;
  /** Run one health and alert check now. */
  check(): Promise<void>;
  /** Resolve when every notification in flight is delivered or given up. */
  flushNotifications(): Promise<void>;
}

const DEAD_LETTER_TOPICS = Object.keys(Topics) as TopicKey[];

export function monitorService(opts: MonitorServiceOptions): MonitorService {
  const clock = opts.clock ?? Date.now;
  const intervalS = opts.intervalS ?? 60;
  const lookbackMs = opts.lookbackMs ?? 7 * 86_400_000;
  const group = opts.group ?? 'monitor';
  // The state rebuilt from the stores (recover): at start, and on Kafka at each group join (resetState first).
  const newResolver = () => new ErrorResolver({ intervalS, unresolvedAfterMs: opts.unresolvedAfterMs ?? 120_000, keepMs: lookbackMs });
  const newDrift = () => new DriftDetectors(opts.drift ?? {}, opts.drift?.holdMs ?? 3_600_000);
  let resolver = newResolver();
  let aggregates = new RollingAggregates();
  const newForecastResolver = () => new ForecastResolver({ intervalS, keepMs: lookbackMs, holdMs: opts.holeHoldMs ?? 30_000 });
  let forecastResolver = newForecastResolver();
  /** Forecast baseline rows already written (one per pair, target and target time). */
  let forecastBaselineDone = new Set<string>();
  let forecastAggregates = new ForecastAggregates();
  let forecastCache: ForecastAggregate[] = [];
  let drift = newDrift();
  let modelAges: ModelAge[] = [];
  let modelAgesAt = -Infinity;
  let registryRef: ModelRegistry | null = null;
  let ownRegistry = false;
  const engine = new AlertEngine(opts.rules ?? DEFAULT_RULES);
  const pairs = new Set(opts.pairs);
  /** Baseline rows already written (one per pair + target, whatever the number of models). */
  let baselineDone = new Set<string>();
  const deadLetterTimes: number[] = [];
  const deadByTopic: Record<string, number> = {};
  const llmRate = new RateOf();
  let freshness: Freshness[] = [];
  let lagMax: number | null = null;
  let llmPerMin: number | null = null;
  let subs: Subscription[] = [];
  let timer: NodeJS.Timeout | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  let ctxRef: ServiceContext | null = null;
  let storesRef: Stores | null = null;
  let notifier: Notifier | null = null;
  let aggregateCache: RollingAggregate[] = [];
  /** The window end the caches were computed at. */
  let cacheEnd: number | null = null;
  /** Per pair: when the store may next be read for its holes, and the wait after that (doubled while reads find nothing). */
  const holeReads = new Map<string, { nextAt: number; backoffMs: number }>();
  let holesAbsentLogged = 0;

  /** Forget everything recover() rebuilds from the stores (a group join: see start). */
  const resetState = (): void => {
    resolver = newResolver();
    aggregates = new RollingAggregates();
    forecastResolver = newForecastResolver();
    holeReads.clear();
    holesAbsentLogged = 0;
    forecastBaselineDone = new Set();
    forecastAggregates = new ForecastAggregates();
    forecastCache = [];
    drift = newDrift();
    baselineDone = new Set();
    aggregateCache = [];
    cacheEnd = null;
  };

  /** Run state changes one at a time (candles and predictions arrive on two topics). */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => undefined);
    return p;
  };

  /** The end of every rolling window: the newest resolved target, price or forecast (event time). */
  const windowsEnd = (): number | null => {
    const a = aggregates.newestTargetMs();
    const b = forecastAggregates.newestTargetMs();
    return a === null ? b : b === null ? a : Math.max(a, b);
  };

  /**
   * The rolling windows (and their gauges) at the current end. A pair's rows change only when its own rows or the end
   * do: with `touched`, and the end where it was, only those pairs are recomputed (every pair at every candle was
   * quadratic in the pairs: 20 pairs replayed spent most of the monitor's time here).
   */
  const refreshAggregates = (touched?: ReadonlySet<string>) => {
    const end = windowsEnd();
    if (end === null) return;
    const only = touched !== undefined && end === cacheEnd ? touched : undefined;
    const agg = aggregates.compute(end, only);
    const fc = forecastAggregates.compute(end, only);
    aggregateCache = only ? mergeByPair(aggregateCache, agg, only) : agg;
    forecastCache = only ? mergeByPair(forecastCache, fc, only) : fc;
    cacheEnd = end;
    for (const f of fc) {
      const labels = { pair: f.pair, model_version: f.model_version, window: f.window };
      if (f.coverage80 !== null) forecastCoverage().set({ ...labels, level: '80' }, f.coverage80);
      if (f.coverage90 !== null) forecastCoverage().set({ ...labels, level: '90' }, f.coverage90);
      for (const metric of ['pinball_bp', 'interval_score80_bp', 'interval_score90_bp', 'qlike', 'rmse_log_vol', 'brier'] as const) {
        const v = f[metric];
        if (v !== null) forecastScore().set({ ...labels, target: f.target, metric }, v);
      }
      if (f.score_vs_baseline !== null) forecastVsBaseline().set({ ...labels, target: f.target }, f.score_vs_baseline);
    }
    for (const a of agg) {
      const labels = { pair: a.pair, model_version: a.model_version, window: a.window };
      if (a.mae !== null) rollingMae().set(labels, a.mae);
      if (a.direction_accuracy !== null) rollingDirection().set(labels, a.direction_accuracy);
      if (a.mae_vs_baseline !== null && a.model_version !== BASELINE_MODEL_VERSION) rollingVsBaseline().set(labels, a.mae_vs_baseline);
    }
  };

  /** Forecast rows resolved now or read back from the store (the rolling windows take them next). */
  const onForecastRows = (rows: readonly ForecastError[]): void => {
    forecastAggregates.add(rows);
    for (const r of [...rows].sort((a, b) => a.target_ms - b.target_ms)) if (!r.baseline) drift.add(`${r.pair} ${r.target} ${r.model_version}`, r.target_ms, r.abs_error);
  };

  const reportUnresolved = (preds: Prediction[]) => {
    if (preds.length === 0) return;
    const ctx = ctxRef as ServiceContext;
    for (const p of preds) {
      unresolvedTotal().inc({ pair: p.pair });
      ctx.logger.warn(
        { pair: p.pair, model_version: p.model_version, made_at: new Date(p.made_at_ms).toISOString(), target: new Date(p.target_ms).toISOString() },
        'prediction unresolved: its target passed without a candle',
      );
    }
    const byPair = new Map<string, number>();
    for (const p of resolver.unresolved()) byPair.set(p.pair, (byPair.get(p.pair) ?? 0) + 1);
    for (const pair of pairs) unresolvedNow().set({ pair }, byPair.get(pair) ?? 0);
  };

  const emit = async (res: readonly Resolution[]): Promise<void> => {
    if (res.length === 0) return;
    const ctx = ctxRef as ServiceContext;
    const stores = storesRef as Stores;
    const rows: PredictionError[] = [];
    for (const r of res) {
      rows.push(r.error);
      const bk = `${r.baseline.pair}|${r.baseline.target_ms}`;
      if (!baselineDone.has(bk)) {
        baselineDone.add(bk);
        rows.push(r.baseline);
      }
    }
    const w = await stores.predictions.errors.write(rows);
    if (w.rejected.length > 0) throw new Error(`prediction error rows not stored: ${w.rejected[0]?.error.message}`);
    await ctx.bus.publish('predictionErrors', rows);
    for (const r of res) {
      aggregates.add(recordsOf(r));
      drift.add(`${r.error.pair} price ${r.error.model_version}`, r.error.target_ms, r.error.abs_pct_error);
      errorsResolved().inc({ pair: r.error.pair, model_version: r.error.model_version });
      ctx.logger.info(
        {
          pair: r.error.pair,
          model_version: r.error.model_version,
          target: new Date(r.error.target_ms).toISOString(),
          predicted: r.error.predicted_price,
          actual: r.error.actual_price,
          error: r.error.error,
          baseline_error: r.baseline.error,
          direction_hit: r.direction_hit,
        },
        'prediction resolved',
      );
    }
    refreshAggregates(new Set(res.map((r) => r.error.pair)));
    reportUnresolved([]);
  };

  /** Store the resolved forecasts (model rows, and each baseline row once per pair, target and target time). */
  const emitForecasts = async (res: readonly ForecastResolution[]): Promise<void> => {
    if (res.length === 0) return;
    const ctx = ctxRef as ServiceContext;
    const rows: ForecastError[] = [];
    for (const r of res) {
      rows.push(...r.rows);
      for (const b of r.baselines) {
        const k = `${b.pair}|${b.target}|${b.target_ms}`;
        if (forecastBaselineDone.has(k)) continue;
        forecastBaselineDone.add(k);
        rows.push(b);
      }
    }
    const w = await (storesRef as Stores).predictions.forecastErrors.write(rows);
    if (w.rejected.length > 0) throw new Error(`forecast error rows not stored: ${w.rejected[0]?.error.message}`);
    if (forecastResolver.holesAbsent > holesAbsentLogged) {
      ctx.logger.warn(
        { holes: forecastResolver.holesAbsent - holesAbsentLogged, hold_ms: forecastResolver.holdMs, wanted: forecastResolver.wanted() },
        'candles missing from the stream and the feature store: forecasts resolved without them (baselines needing them skipped)',
      );
      holesAbsentLogged = forecastResolver.holesAbsent;
    }
    onForecastRows(rows);
    for (const r of res) for (const x of r.rows) forecastsResolved().inc({ pair: x.pair, target: x.target });
    refreshAggregates(new Set(rows.map((r) => r.pair)));
    for (const r of res)
      ctx.logger.info(
        {
          pair: r.prediction.pair,
          target: new Date(r.prediction.target_ms).toISOString(),
          ...Object.fromEntries(
            r.rows.map((x) => [x.target, x.target === 'range' ? { hit80: x.hit80, hit90: x.hit90 } : x.target === 'volatility' ? { qlike: x.qlike } : { brier: x.brier }]),
          ),
        },
        'forecasts resolved',
      );
  };

  const onCandle = async (c: Candle) => {
    const now = clock();
    const out = resolver.addCandle(c, now);
    await emit(out.resolved);
    reportUnresolved(out.unresolved);
    await emitForecasts(forecastResolver.addCandle(c, now));
    await fillHoles(now);
  };

  const onPrediction = async (p: Prediction) => {
    pairs.add(p.pair);
    const now = clock();
    const out = resolver.addPrediction(p, now);
    await emit(out.resolved);
    reportUnresolved(out.unresolved);
    await emitForecasts(forecastResolver.addPrediction(p, now));
    await fillHoles(now);
  };

  /**
   * Candles missing from this instance's view (holes: on Kafka, consumed by a partition's previous owner before a
   * rebalance and not yet stored when this one recovered), read back from the feature store: the forecasts waiting
   * for them (forecast-resolution.ts) and the price predictions whose target candle was skipped (a later one came).
   * A prediction whose candle is merely still to come is not read for: the stream brings it. Per pair at most one
   * read a second, backing off to one a minute while reads find nothing new.
   */
  const fillHoles = async (now: number): Promise<void> => {
    if (!forecastResolver.anyHoles() && !resolver.anySkipped()) return;
    const spans = new Map<string, { from: number; to: number; holes: number; unresolved: number }>();
    const want = (pair: string, from: number, to: number, holes: number, unresolved: number) => {
      const w = spans.get(pair);
      spans.set(pair, w ? { from: Math.min(w.from, from), to: Math.max(w.to, to), holes: w.holes + holes, unresolved: w.unresolved + unresolved } : { from, to, holes, unresolved });
    };
    for (const w of forecastResolver.wanted()) want(w.pair, w.from_ms, w.to_ms, w.holes, 0);
    for (const p of resolver.skipped()) want(p.pair, p.target_ms, p.target_ms, 0, 1);
    for (const [pair, span] of spans) {
      const r = holeReads.get(pair) ?? { nextAt: -Infinity, backoffMs: 1000 };
      if (now < r.nextAt) continue;
      let candles: Candle[];
      try {
        candles = await (storesRef as Stores).features.candles.range({ pair, interval_s: intervalS }, { from_ms: span.from, to_ms: span.to });
      } catch (err) {
        (ctxRef as ServiceContext).logger.warn({ err, pair }, 'reading missing candles from the feature store failed; reading again later');
        r.nextAt = now + r.backoffMs;
        holeReads.set(pair, r);
        continue;
      }
      const holesBefore = forecastResolver.holesFilled;
      const pendingBefore = resolver.pendingCount();
      // One store write for what the read resolves, not one per candle.
      const resolved: Resolution[] = [];
      const forecasts: ForecastResolution[] = [];
      for (const c of candles) {
        resolved.push(...resolver.addCandle(c, Math.min(now, c.window_end_ms)).resolved);
        forecasts.push(...forecastResolver.addCandle(c, now));
      }
      await emit(resolved);
      await emitForecasts(forecasts);
      const filled = forecastResolver.holesFilled - holesBefore + (pendingBefore - resolver.pendingCount());
      if (filled > 0) r.backoffMs = 1000;
      r.nextAt = now + r.backoffMs;
      if (filled === 0) r.backoffMs = Math.min(60_000, r.backoffMs * 2);
      holeReads.set(pair, r);
      if (filled > 0) holesFilledTotal().inc({ pair }, filled);
      (ctxRef as ServiceContext).logger[filled > 0 ? 'info' : 'debug'](
        {
          pair,
          from: new Date(span.from).toISOString(),
          to: new Date(span.to).toISOString(),
          forecast_holes: span.holes,
          skipped_prices: span.unresolved,
          read: candles.length,
          filled,
          next_read_in_ms: r.nextAt - now,
        },
        'candles missing from the stream read from the feature store',
      );
    }
  };

  /** Restart: resolve what came due while down (once), rebuild the rolling windows from the stores. */
  const recover = async (stores: Stores, trigger: 'start' | 'group join') => {
    const now = clock();
    const from = now - lookbackMs;
    for (const p of await stores.predictions.predictions.latestAll()) pairs.add(p.pair);
    let resumed = 0;
    let alreadyDone = 0;
    for (const pair of [...pairs].sort()) {
      const [preds, errs] = await Promise.all([
        stores.predictions.predictions.range({ pair }, { from_ms: from }),
        stores.predictions.errors.range({ pair }, { from_ms: from }),
      ]);
      const errKeys = new Set(errs.map((e) => `${e.model_version}|${e.target_ms}`));
      const records = recordsOfStored(pair, errs, preds);
      for (const e of [...errs].sort((a, b) => a.target_ms - b.target_ms))
        if (e.model_version !== BASELINE_MODEL_VERSION) drift.add(`${e.pair} price ${e.model_version}`, e.target_ms, e.abs_pct_error);
      aggregates.add(records);
      for (const e of errs) if (e.model_version === BASELINE_MODEL_VERSION) baselineDone.add(`${pair}|${e.target_ms}`);
      const open: Prediction[] = [];
      for (const p of preds) {
        if (p.predicted_price === undefined) continue; // no price model: no price error to resolve
        if (errKeys.has(`${p.model_version}|${p.target_ms}`)) {
          resolver.markResolved(p);
          alreadyDone++;
        } else open.push(p);
      }
      // Every stored candle from the oldest open target (or the newest stored prediction) on: also those past the
      // newest open target, which resolve predictions still to arrive (after a rebalance the previous owner may have
      // consumed them already).
      const newestMade = preds.filter(hasPrice).reduce((m, p) => Math.max(m, p.made_at_ms), -Infinity);
      const lo = Math.min(...open.map((p) => p.target_ms), newestMade === -Infinity ? Infinity : newestMade);
      if (!Number.isFinite(lo)) continue;
      const candles = await stores.features.candles.range({ pair, interval_s: intervalS }, { from_ms: lo });
      // A stored candle arrived (live) about when its window ended.
      for (const c of candles) reportUnresolved(resolver.addCandle(c, Math.min(now, c.window_end_ms)).unresolved);
      for (const p of open) {
        const out = resolver.addPrediction(p, now);
        resumed += out.resolved.length;
        await emit(out.resolved);
        reportUnresolved(out.unresolved);
      }
    }
    const forecasts = await recoverForecasts(stores, from);
    refreshAggregates();
    await fillHoles(clock());
    (ctxRef as ServiceContext).logger.info(
      { already_resolved: alreadyDone, resolved_now: resumed, unresolved: resolver.unresolved().length, pending: resolver.pendingCount(), forecasts },
      `monitor recovered from the stores (${trigger})`,
    );
  };

  /** Restart, forecasts: rebuild their windows from the stored rows; resolve what came due while down. */
  const recoverForecasts = async (stores: Stores, from: number) => {
    let done = 0;
    let resolvedNow = 0;
    for (const pair of [...pairs].sort()) {
      const [preds, rows] = await Promise.all([
        stores.predictions.predictions.range({ pair }, { from_ms: from }),
        stores.predictions.forecastErrors.range({ pair }, { from_ms: from }),
      ]);
      onForecastRows(rows);
      const resolvedAt = new Set<number>();
      for (const r of rows) {
        if (r.baseline) forecastBaselineDone.add(`${r.pair}|${r.target}|${r.target_ms}`);
        else resolvedAt.add(r.made_at_ms);
      }
      const open: Prediction[] = [];
      for (const p of preds) {
        if (!hasForecast(p)) continue;
        if (resolvedAt.has(p.made_at_ms)) {
          forecastResolver.markResolved(p);
          done++;
        } else open.push(p);
      }
      // The candles behind them and behind the predictions still to come: the context (240 min) and the base rate
      // (a day) before the oldest open one (or the newest stored candle), up to the newest stored candle.
      const newest = await stores.features.candles.latest({ pair, interval_s: intervalS });
      if (open.length === 0 && !newest) continue;
      const oldest = Math.min(...open.map((p) => p.made_at_ms), newest?.window_end_ms ?? Infinity);
      const lo = oldest - BASE_RATE_WINDOW_MS - (CONTEXT_RETURNS + 10) * intervalS * 1000;
      for (const c of await stores.features.candles.range({ pair, interval_s: intervalS }, { from_ms: lo })) forecastResolver.addCandle(c, clock());
      if (open.length === 0) continue;
      // One write and one refresh of the windows for all of them.
      const out = open.flatMap((p) => forecastResolver.addPrediction(p, clock()));
      resolvedNow += out.length;
      await emitForecasts(out);
    }
    return { already_resolved: done, resolved_now: resolvedNow, pending: forecastResolver.pendingCount() };
  };

  const signals = (now: number): Signal[] => {
    const out: Signal[] = [];
    for (const a of aggregateCache)
      if (a.model_version !== BASELINE_MODEL_VERSION && a.mae_vs_baseline !== null)
        out.push({ signal: 'mae_vs_baseline', key: `${a.pair} ${a.model_version}`, value: a.mae_vs_baseline, window: a.window });
    const kindSignal = { candle: 'candle_age_s', feature: 'feature_age_s', sentiment: 'sentiment_age_s', prediction: 'prediction_age_s' } as const;
    for (const f of freshness) if (f.age_s !== null) out.push({ signal: kindSignal[f.kind], key: f.key, value: f.age_s });
    const recent = deadLetterTimes.filter((t) => t > now - 600_000).length;
    out.push({ signal: 'dead_letters_10m', key: 'all', value: recent });
    const unresolvedByPair = new Map<string, number>();
    for (const p of resolver.unresolved()) unresolvedByPair.set(p.pair, (unresolvedByPair.get(p.pair) ?? 0) + 1);
    for (const pair of pairs) out.push({ signal: 'unresolved_predictions', key: pair, value: unresolvedByPair.get(pair) ?? 0 });
    if (lagMax !== null) out.push({ signal: 'consumer_lag_messages', key: 'all', value: lagMax });
    if (llmPerMin !== null) out.push({ signal: 'llm_errors_per_min', key: 'all', value: llmPerMin });
    // Issue 18.5: coverage, volatility vs baseline, error drift (event time: the windows' end), expired models.
    const end = windowsEnd();
    out.push(...forecastSignals(forecastCache, end === null ? [] : drift.signals(end), modelAges));
    return out;
  };

  const snapshot = (): MonitoringSnapshot => {
    const now = clock();
    const recentDead = deadLetterTimes.filter((t) => t > now - 600_000);
    deadLetterTimes.splice(0, deadLetterTimes.length, ...recentDead);
    const un = resolver.unresolved();
    return {
      generated_at_ms: now,
      windows_end_ms: windowsEnd(),
      accuracy: aggregateCache,
      forecasts: forecastCache,
      freshness,
      unresolved: {
        count: un.length,
        recent: un.slice(0, 20).map((p) => ({ pair: p.pair, model_version: p.model_version, made_at_ms: p.made_at_ms, target_ms: p.target_ms })),
      },
      dead_letters: { total: Object.values(deadByTopic).reduce((a, b) => a + b, 0), last_10m: recentDead.length, by_topic: { ...deadByTopic } },
      consumer_lag_max: lagMax,
      llm_errors_per_min: llmPerMin,
      alerts: engine.active(),
    };
  };

  /** The production models' ages from the registry, at most every checkEveryMs (a registry error keeps the previous ones). */
  const readModelAges = async (now: number): Promise<void> => {
    const max = opts.modelExpiry?.maxAgeHours ?? 0;
    if (max <= 0 || now - modelAgesAt < (opts.modelExpiry?.checkEveryMs ?? 300_000)) return;
    modelAgesAt = now;
    try {
      if (!registryRef) {
        registryRef = opts.modelExpiry?.registry ?? registryOf((ctxRef as ServiceContext).config);
        ownRegistry = !opts.modelExpiry?.registry;
      }
      modelAges = await productionAges(registryRef, now, max);
    } catch (err) {
      (ctxRef as ServiceContext).logger.warn({ err }, 'reading the model registry for model ages failed; keeping the previous ones');
    }
  };

  const check = async (): Promise<void> => {
    const ctx = ctxRef as ServiceContext;
    const now = clock();
    await serial(async () => {
      reportUnresolved(resolver.sweep(now));
      // Holes still open are read again; forecasts whose holes' hold ran out resolve now.
      await fillHoles(now);
      await emitForecasts(forecastResolver.retry(now));
    });
    try {
      freshness = await readFreshness(storesRef as Stores, [...pairs].sort(), intervalS, now);
      for (const f of freshness) if (f.age_s !== null) freshnessAge().set({ key: f.key, kind: f.kind }, f.age_s);
    } catch (err) {
      ctx.logger.warn({ err }, 'reading freshness from the stores failed; keeping the previous values');
    }
    await readModelAges(now);
    lagMax = await maxConsumerLag();
    llmPerMin = llmRate.next(await counterTotal('tickcast_llm_errors_total'), now);
    for (const e of engine.evaluate(signals(now), now)) {
      alertFiring().set({ rule: e.rule.name, key: e.key }, e.state === 'resolved' ? 0 : 1);
      const log = e.state === 'resolved' ? ctx.logger.info.bind(ctx.logger) : ctx.logger.warn.bind(ctx.logger);
      log({ rule: e.rule.name, key: e.key, state: e.state, value: e.value, threshold: e.rule.threshold, severity: e.rule.severity }, `alert ${e.state}`);
      notifier?.notify(e);
    }
    if (opts.stateFile) {
      try {
        mkdirSync(dirname(opts.stateFile), { recursive: true });
        writeFileSync(`${opts.stateFile}.tmp`, JSON.stringify(snapshot(), null, 1));
        renameSync(`${opts.stateFile}.tmp`, opts.stateFile);
      } catch (err) {
        ctx.logger.warn({ err, file: opts.stateFile }, 'writing the monitoring snapshot failed');
      }
    }
  };

  return {
    name: 'monitor',
    snapshot,
    check,
    flushNotifications: () => notifier?.flush() ?? Promise.resolve(),
    async start(ctx) {
      ctxRef = ctx;
      storesRef = await ctx.stores();
      notifier = new Notifier({ ...(opts.notify ?? {}), logger: ctx.logger });
      /**
       * Rebalances (Kafka, issue 19): the stores are this service's changelog
       * (predictions are stored before they are published; candles by the
       * features service as they are published; error rows before their
       * offsets commit). At each group join, in turn with the messages, it
       * forgets its state and runs recover() again after STORE_VISIBLE_MS: a
       * partition it kept may have been another member's meanwhile, whose
       * unresolved predictions and candles it then holds again; what the
       * previous owner resolved is marked done by its stored error rows. A
       * prediction resolved twice (the owner's write not yet visible) gives
       * the same row under the same natural key: harmless; none is missed.
       */
      const onAssign = (assigned: Map<string, number[]>): Promise<void> =>
        serial(async () => {
          const joinedAt = Date.now();
          resetState();
          ctx.logger.info({ assigned: assigned.get(Topics.predictions.name) ?? [] }, 'monitor partitions assigned: state rebuilt from the stores');
          await waitStoreVisible(joinedAt);
          await recover(storesRef as Stores, 'group join');
        });
      // On Kafka the first group join recovers (below); elsewhere the start does.
      if (ctx.bus.kind !== 'kafka') await serial(() => recover(storesRef as Stores, 'start'));
      subs.push(
        await ctx.bus.consume({
          group,
          topics: ['candles', 'predictions'],
          fromBeginning: true,
          handler: (m, meta) => serial(() => (meta.topic === 'candles' ? onCandle(m as Candle) : onPrediction(m as Prediction))),
          ...(ctx.bus.kind === 'kafka' ? { onAssign } : {}),
        }),
      );
      subs.push(
        await ctx.bus.consumeDeadLetters({
          group: `${group}-dlq`,
          topics: DEAD_LETTER_TOPICS,
          fromBeginning: true,
          handler: (dl) => {
            deadLettersSeen().inc({ topic: dl.topic });
            deadByTopic[dl.topic] = (deadByTopic[dl.topic] ?? 0) + 1;
            if (dl.ts_ms > clock() - 600_000) deadLetterTimes.push(dl.ts_ms);
          },
        }),
      );
      setMonitoringSource(snapshot);
      const every = opts.checkIntervalMs ?? 15_000;
      if (every > 0) {
        timer = setInterval(() => void check().catch((err: unknown) => ctx.logger.error({ err }, 'monitor check failed')), every);
        timer.unref();
      }
      ctx.logger.info({ pairs: [...pairs], interval_s: intervalS, rules: engine.rules.length, channels: notifier.channelKinds() }, 'monitor consuming candles and predictions');
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      for (const s of subs) await s.stop();
      subs = [];
      await chain;
      await notifier?.flush();
      if (ownRegistry) await registryRef?.close();
      registryRef = null;
      setMonitoringSource(null);
    },
  };
}
