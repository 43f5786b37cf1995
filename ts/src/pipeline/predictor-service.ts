/**
 * The prediction generator: `features.technical` -> production model ->
 * `predictions` (stream and prediction store).
 *
 * For each fresh feature row of a pair it joins the sentiment features as of
 * the row's time (when the model uses them), predicts with the pair's
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
 *   predicted on the same row with their own production model of the pair
 *   when there is one; their values are logged and exported as the gauge
 *   `tickcast_forecast_value` (the prediction messages carry them from
 *   issue 18 on). Their context features come from the pair's last closes
 *   (kept from the rows seen, filled from the feature store after a gap).
 */
import { Counter, Gauge, register } from 'prom-client';
import type { Prediction, TechnicalFeatures } from '../contracts/messages.ts';
import { Topics } from '../contracts/messages.ts';
import type { Subscription } from '../bus/index.ts';
import type { Service, ServiceContext } from '../services/runner.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { ModelMeta } from '../registry/model-meta.ts';
import { registryOf } from '../registry/index.ts';
import { aliasKey } from '../registry/model-meta.ts';
import { families } from '../model/targets.ts';
import { TargetPredictor } from '../model/target-predictor.ts';
import { CONTEXT_FEATURES, CONTEXT_RETURNS, CloseHistory } from '../model/context-features.ts';

export interface PredictorServiceOptions {
  /** Default: the registry of the configuration (folder or Elasticsearch). */
  registry?: ModelRegistry;
  /** How long a production alias lookup is trusted (default 10 000 ms; 0 = every row). */
  pollMs?: number;
  group?: string;
  clock?: () => number;
}

function counter(name: string, help: string, labelNames: string[]): Counter<string> {
  return (register.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames });
}
const predictionsMade = () => counter('tickcast_predictions_total', 'Predictions written', ['pair']);
const rowsSkipped = () => counter('tickcast_predictor_rows_skipped_total', 'Feature rows not predicted on, by reason', ['pair', 'reason']);
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
  constructor(
    private readonly registry: ModelRegistry,
    private readonly pollMs: number,
    private readonly clock: () => number,
    private readonly onSwap: (pair: string, from: string | null, to: string | null, family: string) => void,
  ) {}

  async get(pair: string, family = 'price'): Promise<Loaded | null> {
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
    if (cur !== undefined || loaded !== null || family === 'price') this.onSwap(pair, was?.meta.version ?? null, loaded?.meta.version ?? null, family);
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
      });
      const skip = (pair: string, reason: string) => rowsSkipped().inc({ pair, reason });
      const others = families().filter((t) => t.family !== 'price');
      const histories = new Map<string, CloseHistory>();
      const filledAt = new Map<string, number>();

      /** The context features at row time, from the closes seen (after a gap: filled from the feature store); false if incomplete. */
      const contextFor = async (row: TechnicalFeatures, out: Float64Array): Promise<boolean> => {
        const h = histories.get(row.pair) as CloseHistory;
        let ok = h.context(row.window_end_ms, out);
        if (!ok && filledAt.get(row.pair) !== row.window_end_ms) {
          filledAt.set(row.pair, row.window_end_ms);
          const from = row.window_end_ms - CONTEXT_RETURNS * row.interval_s * 1000;
          const past = await (await ctx.stores()).features.technical.range({ pair: row.pair, interval_s: row.interval_s }, { from_ms: from, to_ms: row.window_end_ms });
          for (const p of past) if (p.window_end_ms >= from && p.window_end_ms <= row.window_end_ms) h.add(p.window_end_ms, p.close);
          ok = h.context(row.window_end_ms, out);
        }
        return ok;
      };

      const onOtherTargets = async (row: TechnicalFeatures): Promise<void> => {
        if (!histories.has(row.pair)) histories.set(row.pair, new CloseHistory(row.interval_s));
        histories.get(row.pair)!.add(row.window_end_ms, row.close);
        let context: Float64Array | null | undefined;
        for (const t of others) {
          const m = await models.get(row.pair, t.family);
          if (!m) continue;
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
          const r = m.predictor.predict(row, sentiment, context ?? null);
          if (r.kind !== 'ok') {
            skip(row.pair, r.kind);
            continue;
          }
          for (const [name, v] of Object.entries(r.values)) forecastValue().set({ pair: row.pair, target: t.family, name }, v);
          log.debug({ pair: row.pair, target: t.family, made_at: new Date(row.window_end_ms).toISOString(), values: r.values, version: m.meta.version }, 'forecast');
        }
      };

      const onRow = async (row: TechnicalFeatures): Promise<void> => {
        await onOtherTargets(row);
        const m = await models.get(row.pair);
        if (!m) {
          skip(row.pair, 'no_model');
          if (!noModelLogged.has(row.pair)) {
            noModelLogged.add(row.pair);
            log.warn({ pair: row.pair }, 'no production model for this pair yet: feature rows are skipped until one is promoted (tickcast train)');
          }
          return;
        }
        const mismatch = featureMismatch(row, m.meta);
        if (mismatch) {
          skip(row.pair, 'feature_mismatch');
          log.warn({ pair: row.pair, window_end_ms: row.window_end_ms, reason: mismatch }, 'feature row rejected');
          await ctx.bus.deadLetter(Topics.featuresTechnical.name, [{ key: row.pair, payload: JSON.stringify(row), reason: mismatch, source: 'predictor' }]);
          return;
        }
        let sentiment = null;
        if (m.meta.sentiment_features.length > 0) {
          const coin = m.meta.sentiment_coin ?? row.pair.split('/')[0] ?? '';
          sentiment = await (await ctx.stores()).features.sentiment.asOf({ coin }, row.window_end_ms);
        }
        const r = m.predictor.predict(row, sentiment, null);
        if (r.kind === 'warming_up') {
          skip(row.pair, 'warming_up');
          return;
        }
        const out = r.kind === 'bad_output' ? r.outputs[0] : r.kind === 'ok' ? r.values.predicted_price : Number.NaN;
        const price = r.kind === 'ok' ? (r.values.predicted_price as number) : Number.NaN;
        if (!(Number.isFinite(price) && price > 0)) {
          skip(row.pair, 'bad_output');
          log.error({ pair: row.pair, output: out, version: m.meta.version }, 'model output is not a usable price');
          return;
        }
        const p: Prediction = {
          pair: row.pair,
          made_at_ms: row.window_end_ms,
          target_ms: row.window_end_ms + m.meta.horizon_s * 1000,
          horizon_s: m.meta.horizon_s,
          predicted_price: price,
          last_close: row.close,
          model_name: m.meta.model_name,
          model_version: m.meta.version,
        };
        const stores = await ctx.stores();
        const w = await stores.predictions.predictions.write([p]);
        if (w.rejected.length > 0) throw new Error(`prediction not stored: ${w.rejected[0]?.error.message}`);
        await ctx.bus.publish('predictions', [p]);
        predictionsMade().inc({ pair: row.pair });
        log.debug({ pair: p.pair, made_at: new Date(p.made_at_ms).toISOString(), predicted: p.predicted_price, last: p.last_close, version: p.model_version }, 'prediction');
      };

      sub = await ctx.bus.consume({ group: opts.group ?? 'predictor', topics: ['featuresTechnical'], fromBeginning: false, handler: onRow });
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
