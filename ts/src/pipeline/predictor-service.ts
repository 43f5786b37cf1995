/**
 * The prediction generator: `features.technical` -> production model ->
 * `predictions` (stream and prediction store).
 *
 * For each fresh feature row of a pair it joins the sentiment features as of
 * the row's time (when the model uses them), and the order-book features as of
 * the row's time (when the model was trained with them: the newest book row of
 * the model's book_exchange and the pair at or before t, at most
 * BOOK_MAX_AGE_MS old, else missing values, the dataset's rule), predicts with the pair's
 * production model (single-row fast predict) and writes a Prediction:
 * made_at_ms = window_end_ms, target_ms = made_at + horizon.
 *
 * - A newly promoted model is picked up without a restart: the production
 *   alias is re-read at most every `pollMs` (default 10 s), on the next row.
 * - A row whose feature names differ from the model's is rejected with the
 *   reason (counted, logged, dead-lettered to dlq.features.technical), never
 *   predicted on. A row still warming up (null values) is skipped and counted.
 * - No production model for the pair yet: logged once, counted, skipped.
 * - The other targets (volatility, range, direction: model/targets.ts) are
 *   predicted in the same pass on the same row with their own production
 *   model of the pair when there is one, and carried by the same Prediction
 *   (`volatility`, `range`, `direction`, each with its model version; issue
 *   18). A pair with no price model but with another target's model still
 *   gets a Prediction, without `predicted_price`; model_name / model_version
 *   are then the first present of range, volatility, direction. A target
 *   whose model has another horizon than the message's is skipped (counted).
 *   Their values are also exported as the gauge `tickcast_forecast_value`.
 *   Their context features come from the pair's last closes (kept from the
 *   rows seen, filled from the feature store after a gap).
 * - The range intervals pass through the online calibration
 *   (model/online-calibration.ts), one per pair and range model version, fed
 *   with the close of every row of the pair: the interval made at t resolves
 *   on the row at t + horizon. Its state lives in memory and is rebuilt
 *   after a restart (or when a model version comes back) from the stored
 *   predictions of that range model and the stored closes
 *   (restoreCalibration): the multipliers of the newest one (the state after
 *   every outcome up to its time), its still open intervals (their base bands
 *   from the stored quantiles and close, the multipliers they were served
 *   with), then the closes stored since resolve those: the same multipliers
 *   as without the restart. A model with no stored prediction in the last
 *   RESTORE_LOOKBACK_MS starts from its own bands (`calibrated` false until
 *   the first outcome).
 * - With `rangeBaseline` (the embedded run), a pair without a production
 *   range model gets the range target's Gaussian-EWMA baseline interval
 *   (BASELINE_RANGE_VERSION) through the same calibration.
 */
import { Counter, Gauge, register } from 'prom-client';
import type { DirectionForecast, Prediction, RangeForecast, TechnicalFeatures, VolatilityForecast } from '../contracts/messages.ts';
import { Topics } from '../contracts/messages.ts';
import type { Subscription } from '../bus/index.ts';
import type { Service, ServiceContext } from '../services/runner.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { ModelMeta } from '../registry/model-meta.ts';
import { registryOf } from '../registry/index.ts';
import { aliasKey } from '../registry/model-meta.ts';
import { isExpired } from '../monitor/model-expiry.ts';
import { families } from '../model/targets.ts';
import { TargetPredictor } from '../model/target-predictor.ts';
import { CONTEXT_FEATURES, CONTEXT_RETURNS, CloseHistory } from '../model/context-features.ts';
import { CALIBRATION_LEVELS, DEFAULT_STEP, OnlineCalibration } from '../model/online-calibration.ts';
import type { Stores } from '../stores/types.ts';
import type { BookFeatures } from '../contracts/messages.ts';
import { bookAsOfAge } from '../model/feature-row.ts';
import { RANGE_LEVELS } from '../model/targets/range.ts';
import { VOL_FLOOR, normalQuantile } from '../model/targets/common.ts';
import { waitStoreVisible } from './store-visible.ts';

/** The forecasts of the other targets for one row, and the models that made them. */
interface OtherForecasts {
  volatility?: VolatilityForecast;
  range?: RangeForecast;
  direction?: DirectionForecast;
  /** Meta of each target's model that produced a forecast, in family order. */
  metas: Map<string, ModelMeta>;
}

/**
 * The served range of quantiles q (log returns q05, q10, q50, q90, q95) at
 * close `close`, through the pair's calibration; the interval is remembered
 * until target_ms.
 */
export function calibratedRange(cal: OnlineCalibration, q: ArrayLike<number>, close: number, target_ms: number, version: string, restoredCalibrated = false): RangeForecast {
  const lc = Math.log(close);
  const q05 = q[0] as number;
  const q10 = q[1] as number;
  const q50 = q[2] as number;
  const q90 = q[3] as number;
  const q95 = q[4] as number;
  const m = cal.multipliers();
  const calibrated = restoredCalibrated || cal.resolvedCount > 0;
  const served = cal.issue(target_ms, lc + (q50 as number), [
    { lo: lc + (q10 as number), hi: lc + (q90 as number) },
    { lo: lc + (q05 as number), hi: lc + (q95 as number) },
  ]);
  return {
    q05: q05 as number,
    q10: q10 as number,
    q50: q50 as number,
    q90: q90 as number,
    q95: q95 as number,
    lo80: Math.exp(served[0]!.lo),
    hi80: Math.exp(served[0]!.hi),
    lo90: Math.exp(served[1]!.lo),
    hi90: Math.exp(served[1]!.hi),
    calibrated,
    m80: m[0] as number,
    m90: m[1] as number,
    model_version: version,
  };
}

/** How far back restoreCalibration looks for the newest stored prediction of a range model. */
export const RESTORE_LOOKBACK_MS = 86_400_000;

/**
 * The online calibration of `pair`'s range model `version` as it was before a
 * restart, from the store: the newest stored prediction of that model made
 * before now_ms (within RESTORE_LOOKBACK_MS) carries the multipliers served
 * with it, which are the tracker's state after every outcome up to its time
 * (the row's close is observed before its interval is issued); the
 * predictions whose target is after its time are the open intervals (base
 * bands rebuilt exactly as calibratedRange made them: ln(last_close) + the
 * stored quantiles); the closes stored after it and before now_ms then
 * resolve them, as the rows would have. Null when there is nothing to restore.
 */
export async function restoreCalibration(
  stores: Stores,
  pair: string,
  intervalS: number,
  version: string,
  now_ms: number,
  step = DEFAULT_STEP,
): Promise<{ cal: OnlineCalibration; calibrated: boolean; open: number; resolved: number; from_ms: number } | null> {
  const stored = await stores.predictions.predictions.range({ pair }, { from_ms: now_ms - RESTORE_LOOKBACK_MS, to_ms: now_ms - 1 });
  const mine = stored.filter((p) => p.range?.model_version === version && p.made_at_ms < now_ms);
  const last = mine.at(-1);
  if (!last?.range) return null;
  const open = mine.filter((p) => p.target_ms > last.made_at_ms);
  const cal = OnlineCalibration.fromState({
    levels: [...CALIBRATION_LEVELS],
    step,
    log_multipliers: [Math.log(last.range.m80), Math.log(last.range.m90)],
    resolved: 0,
    misses: CALIBRATION_LEVELS.map(() => 0),
    dropped: 0,
    max_pending: 64,
    pending: open.map((p) => {
      const r = p.range!;
      const lc = Math.log(p.last_close);
      return {
        target_ms: p.target_ms,
        center: lc + r.q50,
        bands: [
          { lo: lc + r.q10, hi: lc + r.q90 },
          { lo: lc + r.q05, hi: lc + r.q95 },
        ],
        served: [r.m80, r.m90],
      };
    }),
  });
  let resolved = 0;
  if (open.length > 0) {
    const closes = await stores.features.technical.range({ pair, interval_s: intervalS }, { from_ms: last.made_at_ms + 1, to_ms: now_ms - 1 });
    for (const c of closes) if (c.window_end_ms > last.made_at_ms && c.window_end_ms < now_ms) resolved += cal.observe(c.window_end_ms, Math.log(c.close));
  }
  return { cal, calibrated: last.range.calibrated || resolved > 0, open: open.length, resolved, from_ms: last.made_at_ms };
}

export interface PredictorServiceOptions {
  /** Default: the registry of the configuration (folder or Elasticsearch). */
  registry?: ModelRegistry;
  /** How long a production alias lookup is trusted (default 10 000 ms; 0 = every row). */
  pollMs?: number;
  group?: string;
  clock?: () => number;
  /** Step of the online calibration (default DEFAULT_STEP; bench/coverage.ts --step). */
  calibrationStep?: number;
  /**
   * A pair without a production range model gets the range target's own
   * baseline instead, the Gaussian-EWMA interval (quantiles z_a · the EWMA
   * 5-minute volatility of the context features), through the same online
   * calibration, named BASELINE_RANGE_VERSION (default false; the embedded
   * run sets it: a pair whose range model did not beat that baseline still
   * gets bands).
   */
  rangeBaseline?: boolean;
}

/** model_version of a range served by the Gaussian-EWMA baseline (rangeBaseline). */
export const BASELINE_RANGE_VERSION = 'baseline-gaussian-ewma';
const BASELINE_Z = RANGE_LEVELS.map((a) => normalQuantile(a));
const EWMA_COL = CONTEXT_FEATURES.indexOf('ewma_vol');

function counter(name: string, help: string, labelNames: string[]): Counter<string> {
  return (register.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames });
}
const predictionsMade = () => counter('tickcast_predictions_total', 'Predictions written', ['pair']);
const rowsSkipped = () => counter('tickcast_predictor_rows_skipped_total', 'Feature rows not predicted on, by reason', ['pair', 'reason']);
const rowsReplayed = () => counter('tickcast_predictor_rows_replayed_total', 'Feature rows delivered again after newer ones of their pair (without a group join): the pair\'s state restored from the stores', ['pair']);
const modelsLoaded = () => counter('tickcast_predictor_models_loaded_total', 'Production models loaded (start and hot swaps)', ['pair']);
const forecastValue = () =>
  (register.getSingleMetric('tickcast_forecast_value') as Gauge<string> | undefined) ??
  new Gauge({ name: 'tickcast_forecast_value', help: 'Latest published value of each non-price target (volatility, range bounds, p_up)', labelNames: ['pair', 'target', 'name'] });

interface Loaded {
  meta: ModelMeta;
  predictor: TargetPredictor;
}

/** The production model of each pair (and target family), re-read from the registry at most every pollMs. */
export class ProductionModels {
  private readonly byPair = new Map<string, { loaded: Loaded | null; checkedMs: number }>();
  /** Issue 18.5: production models not served because expired (key -> version), and when each key was last checked. */
  private readonly expired = new Map<string, string>();
  private readonly expiryCheckedMs = new Map<string, number>();
  constructor(
    private readonly registry: ModelRegistry,
    private readonly pollMs: number,
    private readonly clock: () => number,
    private readonly onSwap: (pair: string, from: string | null, to: string | null, family: string) => void,
    /** TICKCAST_MODEL_MAX_AGE_HOURS / TICKCAST_MODEL_EXPIRED_STOP_SERVING: an expired model (monitor/model-expiry.ts) is not served; checked at most every minute. */
    private readonly expiry: { maxAgeHours: number; stopServing: boolean; onExpired?: (pair: string, family: string, version: string, expired: boolean) => void } = { maxAgeHours: 0, stopServing: false },
  ) {}

  async get(pair: string, family = 'price'): Promise<Loaded | null> {
    const m = await this.getLoaded(pair, family);
    if (!m || !this.expiry.stopServing || this.expiry.maxAgeHours <= 0) return m;
    const key = aliasKey(pair, family);
    const now = this.clock();
    if (now - (this.expiryCheckedMs.get(key) ?? -Infinity) >= 60_000 || (this.expired.has(key) && this.expired.get(key) !== m.meta.version)) {
      this.expiryCheckedMs.set(key, now);
      const exp = await isExpired(this.registry, m.meta, now, this.expiry.maxAgeHours);
      if (exp !== (this.expired.get(key) === m.meta.version)) this.expiry.onExpired?.(pair, family, m.meta.version, exp);
      if (exp) this.expired.set(key, m.meta.version);
      else this.expired.delete(key);
    }
    return this.expired.get(key) === m.meta.version ? null : m;
  }

  private async getLoaded(pair: string, family: string): Promise<Loaded | null> {
    const now = this.clock();
    const key = aliasKey(pair, family);
    const cur = this.byPair.get(key);
    if (cur && now - cur.checkedMs < this.pollMs) return cur.loaded;
    const version = await this.registry.production(pair, family);
    const was = cur?.loaded ?? null;
    if (was?.meta.version === version) {
      this.byPair.set(key, { loaded: was, checkedMs: now });
      return was;
    }
    let loaded: Loaded | null = null;
    if (version !== null) {
      const stored = await this.registry.load(version);
      if (stored) loaded = { meta: stored.meta, predictor: new TargetPredictor(stored.meta, stored.modelText) };
    }
    this.byPair.set(key, { loaded, checkedMs: now });
    // Logged on a change only (a pair without a model is not logged again at every poll).
    if (cur === undefined ? loaded !== null || family === 'price' : loaded !== null || was !== null) this.onSwap(pair, was?.meta.version ?? null, loaded?.meta.version ?? null, family);
    return loaded;
  }
}

/** Why a row's feature names do not fit a model, or null when they match (as a set). */
export function featureMismatch(row: TechnicalFeatures, meta: ModelMeta): string | null {
  const have = new Set(Object.keys(row.features));
  const want = new Set(meta.technical_features);
  const missing = [...want].filter((n) => !have.has(n));
  const extra = [...have].filter((n) => !want.has(n));
  if (missing.length === 0 && extra.length === 0) {
    if (row.interval_s !== meta.interval_s) return `interval ${row.interval_s}s does not match model ${meta.version} (${meta.interval_s}s)`;
    return null;
  }
  const list = (xs: string[]) => (xs.length > 8 ? `${xs.slice(0, 8).join(', ')} (+${xs.length - 8})` : xs.join(', '));
  return `feature names do not match model ${meta.version}: ${missing.length ? `missing [${list(missing)}]` : ''}${missing.length && extra.length ? ', ' : ''}${extra.length ? `unexpected [${list(extra)}]` : ''}`;
}

export function predictorService(opts: PredictorServiceOptions = {}): Service {
  const clock = opts.clock ?? Date.now;
  let sub: Subscription | null = null;
  let registry: ModelRegistry | null = null;
  let ownRegistry = false;
  const noModelLogged = new Set<string>();

  return {
    name: 'predictor',
    async start(ctx: ServiceContext) {
      registry = opts.registry ?? registryOf(ctx.config);
      ownRegistry = !opts.registry;
      const log = ctx.logger;
      const models = new ProductionModels(registry, opts.pollMs ?? 10_000, clock, (pair, from, to, family) => {
        if (to !== null) {
          modelsLoaded().inc({ pair });
          if (family === 'price') noModelLogged.delete(pair);
        }
        log.info({ pair, from, to, ...(family === 'price' ? {} : { target: family }) }, to === null ? 'no production model' : from === null ? 'production model loaded' : 'production model swapped');
      }, {
        maxAgeHours: ctx.config.modelMaxAgeHours,
        stopServing: ctx.config.modelExpiredStopServing,
        onExpired: (pair, family, version, expired) =>
          log.warn({ pair, target: family, version, max_age_hours: ctx.config.modelMaxAgeHours }, expired ? 'production model expired: not served (TICKCAST_MODEL_EXPIRED_STOP_SERVING)' : 'production model no longer expired: served again'),
      });
      const skip = (pair: string, reason: string) => rowsSkipped().inc({ pair, reason });
      const others = families().filter((t) => t.family !== 'price');
      const histories = new Map<string, CloseHistory>();
      /** Pairs whose incomplete context was logged (again once it was complete). */
      const contextLogged = new Set<string>();

      /** The context features at row time, from the closes seen (after a gap: filled from the feature store); false if incomplete. */
      const contextFor = async (row: TechnicalFeatures, out: Float64Array): Promise<boolean> => {
        const h = histories.get(row.pair) as CloseHistory;
        if (h.context(row.window_end_ms, out)) return true;
        const from = row.window_end_ms - CONTEXT_RETURNS * row.interval_s * 1000;
        const past = await (await ctx.stores()).features.technical.range({ pair: row.pair, interval_s: row.interval_s }, { from_ms: from, to_ms: row.window_end_ms });
        for (const p of past) if (p.window_end_ms >= from && p.window_end_ms <= row.window_end_ms) h.add(p.window_end_ms, p.close);
        const ok = h.context(row.window_end_ms, out);
        if (ok) contextLogged.delete(row.pair);
        else if (!contextLogged.has(row.pair)) {
          contextLogged.add(row.pair);
          const missing = h.missing(row.window_end_ms).map((t) => new Date(t).toISOString());
          log.warn({ pair: row.pair, made_at: new Date(row.window_end_ms).toISOString(), read: past.length, missing }, 'context incomplete after reading the feature store: forecasts that need 240 closes skipped until it is');
        }
        return ok;
      };

      const calibrations = new Map<string, { version: string; cal: OnlineCalibration; restored: boolean }>();
      const baselineQ = new Float64Array(BASELINE_Z.length);
      const BASELINE_META = { version: BASELINE_RANGE_VERSION, model_name: 'gaussian_ewma', horizon_s: 300 } as unknown as ModelMeta;
      const debug = typeof log.isLevelEnabled === 'function' ? log.isLevelEnabled('debug') : true;
      const gauges = new Map<string, { set(v: number): void }>();
      const setForecastGauge = (pair: string, target: string, name: string, v: number) => {
        const key = `${pair}\u0000${target}\u0000${name}`;
        let g = gauges.get(key);
        if (!g) {
          g = forecastValue().labels({ pair, target, name });
          gauges.set(key, g);
        }
        g.set(v);
      };

      /** The book row a model trained with book features gets at t (same rule as the dataset). */
      const bookFor = async (row: TechnicalFeatures, meta: ModelMeta): Promise<BookFeatures | null> => {
        if (!meta.book_exchange) return null;
        const b = await (await ctx.stores()).features.book.asOf({ exchange: meta.book_exchange, pair: row.pair, interval_s: meta.interval_s }, row.window_end_ms);
        return bookAsOfAge(b, row.window_end_ms);
      };

      const onOtherTargets = async (row: TechnicalFeatures): Promise<OtherForecasts> => {
        if (!histories.has(row.pair)) histories.set(row.pair, new CloseHistory(row.interval_s));
        histories.get(row.pair)!.add(row.window_end_ms, row.close);
        // This row's close resolves the intervals that targeted its time.
        calibrations.get(row.pair)?.cal.observe(row.window_end_ms, Math.log(row.close));
        const out: OtherForecasts = { metas: new Map() };
        let context: Float64Array | null | undefined;
        let rangeModel = false;
        for (const t of others) {
          const m = await models.get(row.pair, t.family);
          if (!m) continue;
          if (t.family === 'range') rangeModel = true;
          if (featureMismatch(row, m.meta)) {
            skip(row.pair, 'feature_mismatch');
            continue;
          }
          let sentiment = null;
          if (m.meta.sentiment_features.length > 0) sentiment = await (await ctx.stores()).features.sentiment.asOf({ coin: m.meta.sentiment_coin ?? row.pair.split('/')[0] ?? '' }, row.window_end_ms);
          if (m.predictor.usesContext && context === undefined) {
            const c = new Float64Array(CONTEXT_FEATURES.length);
            context = (await contextFor(row, c)) ? c : null;
          }
          const r = m.predictor.predict(row, sentiment, context ?? null, m.predictor.usesBook ? await bookFor(row, m.meta) : null);
          if (r.kind !== 'ok') {
            skip(row.pair, r.kind);
            continue;
          }
          const version = m.meta.version;
          if (t.family === 'volatility') out.volatility = { value: r.values.volatility as number, model_version: version };
          else if (t.family === 'direction') out.direction = { p_up: r.values.p_up as number, model_version: version };
          else if (t.family === 'range') {
            const c = await calibrationOf(row, version);
            out.range = calibratedRange(c.cal, r.outputs, row.close, row.window_end_ms + m.meta.horizon_s * 1000, version, c.restored);
          } else continue;
          out.metas.set(t.family, m.meta);
          for (const name in r.values) setForecastGauge(row.pair, t.family, name, r.values[name] as number);
          if (debug) log.debug({ pair: row.pair, target: t.family, made_at: new Date(row.window_end_ms).toISOString(), values: r.values, version }, 'forecast');
        }
        if (opts.rangeBaseline && !rangeModel && row.interval_s === 60) {
          // No range model for the pair: the Gaussian-EWMA baseline's interval, calibrated the same way.
          if (context === undefined) {
            const c = new Float64Array(CONTEXT_FEATURES.length);
            context = (await contextFor(row, c)) ? c : null;
          }
          if (context) {
            const sd = Math.max(context[EWMA_COL] as number, VOL_FLOOR);
            for (let j = 0; j < BASELINE_Z.length; j++) baselineQ[j] = (BASELINE_Z[j] as number) * sd;
            const c = await calibrationOf(row, BASELINE_RANGE_VERSION);
            out.range = calibratedRange(c.cal, baselineQ, row.close, row.window_end_ms + 300_000, BASELINE_RANGE_VERSION, c.restored);
            out.metas.set('range', BASELINE_META);
          } else skip(row.pair, 'no_context');
        }
        return out;
      };

      /** The pair's calibration of a range model version (restored from the store when it changes). */
      const calibrationOf = async (row: TechnicalFeatures, version: string): Promise<{ version: string; cal: OnlineCalibration; restored: boolean }> => {
        let c = calibrations.get(row.pair);
        if (c?.version !== version) {
          let restored: Awaited<ReturnType<typeof restoreCalibration>> = null;
          try {
            restored = await restoreCalibration(await ctx.stores(), row.pair, row.interval_s, version, row.window_end_ms, opts.calibrationStep);
          } catch (e) {
            log.warn({ pair: row.pair, version, err: (e as Error).message }, 'range calibration not restored (store unavailable): starting from the model bands');
          }
          c = { version, cal: restored?.cal ?? new OnlineCalibration(opts.calibrationStep !== undefined ? { step: opts.calibrationStep } : {}), restored: restored?.calibrated ?? false };
          calibrations.set(row.pair, c);
          // This row's close was observed above by the tracker it replaces: the restored one gets it too.
          if (restored && restored.cal.observe(row.window_end_ms, Math.log(row.close)) > 0) c.restored = true;
          if (restored) log.info({ pair: row.pair, version, from: new Date(restored.from_ms).toISOString(), multipliers: restored.cal.multipliers(), open: restored.open, resolved_from_store: restored.resolved }, 'range calibration restored from the stored predictions');
          else log.info({ pair: row.pair, version }, 'range calibration starts from the model bands (no stored prediction of this model)');
        }
        return c;
      };

      /** The message of a row: the price (when the price model gave one) and the other forecasts of the same horizon; null when there is nothing. */
      const message = (row: TechnicalFeatures, price: { value: number; meta: ModelMeta } | null, other: OtherForecasts): Prediction | null => {
        const primary = price?.meta ?? other.metas.get('range') ?? other.metas.get('volatility') ?? other.metas.get('direction');
        if (!primary) return null;
        const p: Prediction = {
          pair: row.pair,
          made_at_ms: row.window_end_ms,
          target_ms: row.window_end_ms + primary.horizon_s * 1000,
          horizon_s: primary.horizon_s,
          ...(price ? { predicted_price: price.value } : {}),
          last_close: row.close,
          model_name: primary.model_name,
          model_version: primary.version,
        };
        for (const f of ['volatility', 'range', 'direction'] as const) {
          const meta = other.metas.get(f);
          if (!meta || other[f] === undefined) continue;
          if (meta.horizon_s !== primary.horizon_s) {
            skip(row.pair, 'horizon_mismatch');
            continue;
          }
          (p as Record<string, unknown>)[f] = other[f];
        }
        return p;
      };

      const publish = async (p: Prediction): Promise<void> => {
        const stores = await ctx.stores();
        const w = await stores.predictions.predictions.write([p]);
        if (w.rejected.length > 0) throw new Error(`prediction not stored: ${w.rejected[0]?.error.message}`);
        await ctx.bus.publish('predictions', [p]);
        predictionsMade().inc({ pair: p.pair });
        if (debug) log.debug({ pair: p.pair, made_at: new Date(p.made_at_ms).toISOString(), predicted: p.predicted_price, last: p.last_close, version: p.model_version }, 'prediction');
      };

      /** Per pair: the newest row handled and when (Date.now()), to recognise a row delivered again. */
      const handled = new Map<string, { end_ms: number; at: number }>();

      const onRow = async (row: TechnicalFeatures): Promise<void> => {
        const last = handled.get(row.pair);
        if (last !== undefined && row.window_end_ms <= last.end_ms) {
          // Delivered again without a group join (a handler retried after a store or broker error, kafkajs
          // restarting from the committed offsets): the pair's closes and calibration are ahead of this row.
          // Like a pair newly assigned, both are restored from the stores at this row, once this instance's
          // own last writes are visible there.
          rowsReplayed().inc({ pair: row.pair });
          log.info({ pair: row.pair, made_at: new Date(row.window_end_ms).toISOString(), newest: new Date(last.end_ms).toISOString() }, 'feature row delivered again: the pair\'s closes and calibration are restored from the stores at this row');
          histories.delete(row.pair);
          calibrations.delete(row.pair);
          await waitStoreVisible(last.at);
        }
        handled.set(row.pair, { end_ms: row.window_end_ms, at: Date.now() });
        const other = await onOtherTargets(row);
        const price = await pricePart(row);
        const p = message(row, price, other);
        if (p) await publish(p);
      };

      /** The price model's price for a row, or null (no model, rejected, warming up, unusable output: counted and logged). */
      const pricePart = async (row: TechnicalFeatures): Promise<{ value: number; meta: ModelMeta } | null> => {
        const m = await models.get(row.pair);
        if (!m) {
          skip(row.pair, 'no_model');
          if (!noModelLogged.has(row.pair)) {
            noModelLogged.add(row.pair);
            log.warn({ pair: row.pair }, 'no production price model for this pair yet: no predicted price until one is promoted (tickcast train); other targets with a model are still published');
          }
          return null;
        }
        const mismatch = featureMismatch(row, m.meta);
        if (mismatch) {
          skip(row.pair, 'feature_mismatch');
          log.warn({ pair: row.pair, window_end_ms: row.window_end_ms, reason: mismatch }, 'feature row rejected');
          await ctx.bus.deadLetter(Topics.featuresTechnical.name, [{ key: row.pair, payload: JSON.stringify(row), reason: mismatch, source: 'predictor' }]);
          return null;
        }
        let sentiment = null;
        if (m.meta.sentiment_features.length > 0) {
          const coin = m.meta.sentiment_coin ?? row.pair.split('/')[0] ?? '';
          sentiment = await (await ctx.stores()).features.sentiment.asOf({ coin }, row.window_end_ms);
        }
        const r = m.predictor.predict(row, sentiment, null, m.predictor.usesBook ? await bookFor(row, m.meta) : null);
        if (r.kind === 'warming_up') {
          skip(row.pair, 'warming_up');
          return null;
        }
        const out = r.kind === 'bad_output' ? r.outputs[0] : r.kind === 'ok' ? r.values.predicted_price : Number.NaN;
        const price = r.kind === 'ok' ? (r.values.predicted_price as number) : Number.NaN;
        if (!(Number.isFinite(price) && price > 0)) {
          skip(row.pair, 'bad_output');
          log.error({ pair: row.pair, output: out, version: m.meta.version }, 'model output is not a usable price');
          return null;
        }
        return { value: price, meta: m.meta };
      };

      // Rows and group joins one at a time: a join's reset never lands in the middle of a row.
      let chain: Promise<unknown> = Promise.resolve();
      const serial = <T>(fn: () => Promise<T>): Promise<T> => {
        const p = chain.then(fn);
        chain = p.catch(() => undefined);
        return p;
      };
      /**
       * Rebalances (Kafka, issue 19): the prediction store is this service's
       * changelog (a prediction is stored before it is published and before
       * its row's offset commits; the closes are the stored feature rows). At
       * each group join every pair's calibration and close history is
       * forgotten (a partition kept may have been another member's while this
       * one was out of the group), and the assigned partitions wait
       * STORE_VISIBLE_MS so the previous owner's last writes are visible; at
       * the pair's next row, calibrationOf restores the calibration from the
       * stored predictions and contextFor refills the closes from the store.
       */
      const onAssign = (assigned: Map<string, number[]>): Promise<void> =>
        serial(async () => {
          const joinedAt = Date.now();
          const pairs = calibrations.size;
          calibrations.clear();
          histories.clear();
          contextLogged.clear();
          handled.clear();
          log.info({ assigned: assigned.get(Topics.featuresTechnical.name) ?? [], forgotten_pairs: pairs }, 'predictor partitions assigned: calibrations and closes restored from the stores at each pair\'s next row');
          await waitStoreVisible(joinedAt);
        });
      sub = await ctx.bus.consume({
        group: opts.group ?? 'predictor',
        topics: ['featuresTechnical'],
        fromBeginning: false,
        handler: (row) => serial(() => onRow(row)),
        ...(ctx.bus.kind === 'kafka' ? { onAssign } : {}),
      });
      log.info({ registry: registry.kind, poll_ms: opts.pollMs ?? 10_000 }, 'predictor consuming features.technical');
    },
    async stop() {
      await sub?.stop();
      sub = null;
      if (ownRegistry) await registry?.close();
      registry = null;
    },
  };
}
