/**
 * One full training run for a pair, from a candle file or from the feature
 * store: dataset -> walk-forward + search -> report -> registry (promotion
 * rule applied). Used by `tickcast train` and by the embedded bootstrap.
 */
import type { Logger } from 'pino';
import type { Stores } from '../stores/types.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { ModelMeta } from '../registry/model-meta.ts';
import { registerCandidate, type Decision } from '../registry/promotion.ts';
import { readCandleCsv } from './candle-csv.ts';
import { bookLookup, buildDataset, sentimentLookup, technicalRowsFromCandles, type Dataset, type TargetKind } from './dataset.ts';
import { BOOK_MAX_AGE_MS } from '../model/feature-row.ts';
import type { BookFeatures } from '../contracts/messages.ts';
import { DEFAULT_FEATURES } from '../pipeline/feature-stage.ts';
import { SENTIMENT_FEATURE_NAMES } from '../sentiment/sentiment-features.ts';
import { defaultKind as backendDefaultKind, loadRegressor, type ModelKind, type ModelParams } from '../model/backends.ts';
import { targetOf, DEFAULT_TARGET } from '../model/targets.ts';
import { trainModel, type TrainResult } from './trainer.ts';
import { trainTargetAsync, type CurrentTargetModel, type TargetTrainResult } from './target-trainer.ts';
import type { CurrentModel } from './walk-forward-eval.ts';
import { renderReport, renderTargetReport } from './report-html.ts';

export type TrainingSource = { kind: 'file'; path: string } | { kind: 'store'; stores: Stores; fromMs?: number; toMs?: number };

export interface TrainingRunOptions {
  registry: ModelRegistry;
  pair: string;
  source: TrainingSource;
  /** Default: lightgbm when the binding is built, else ridge. */
  kind?: ModelKind;
  params?: ModelParams;
  horizonS?: number;
  target?: TargetKind;
  intervalS?: number;
  features?: readonly string[];
  folds?: number;
  trials?: number;
  budgetMs?: number;
  logger?: Logger;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface TrainingRunResult {
  meta: ModelMeta & Decision;
  /** The price target's run (log_return, price). */
  result?: TrainResult;
  /** Any other target's run. */
  targetResult?: TargetTrainResult;
  dataset: Dataset;
}

export const defaultKind = backendDefaultKind;

/**
 * The book rows to join into a pair's training set: of the exchange with the newest book row
 * of the pair at the interval (the store's series), those that can be joined to some row in
 * [fromMs, toMs] (from BOOK_MAX_AGE_MS before it). None when the store has no book of the pair.
 */
export async function bookRowsFor(stores: Stores, pair: string, intervalS: number, fromMs: number, toMs: number | undefined): Promise<{ exchange: string; rows: BookFeatures[] } | null> {
  const series = (await stores.features.book.latestAll()).filter((r) => r.pair === pair && r.interval_s === intervalS);
  if (series.length === 0) return null;
  const newest = series.reduce((a, b) => (b.window_end_ms > a.window_end_ms || (b.window_end_ms === a.window_end_ms && b.exchange < a.exchange) ? b : a));
  const rows = await stores.features.book.range({ exchange: newest.exchange, pair, interval_s: intervalS }, { from_ms: fromMs - BOOK_MAX_AGE_MS, ...(toMs !== undefined ? { to_ms: toMs } : {}) });
  return rows.length > 0 ? { exchange: newest.exchange, rows } : null;
}

/** The dataset of a source (technical features by the live FeatureStage; sentiment and order-book features as of t from the store). */
export async function datasetOf(opts: Pick<TrainingRunOptions, 'pair' | 'source' | 'horizonS' | 'target' | 'intervalS' | 'features'>): Promise<{ dataset: Dataset; sentimentCoin?: string; sourceLabel: string }> {
  const intervalS = opts.intervalS ?? 60;
  const common = { pair: opts.pair, ...(opts.horizonS !== undefined ? { horizonS: opts.horizonS } : {}), ...(opts.target ? { target: opts.target } : {}) };
  if (opts.source.kind === 'file') {
    const { segments } = readCandleCsv(opts.source.path, { pair: opts.pair, intervalS });
    const { names, rows } = technicalRowsFromCandles(segments, opts.features ?? DEFAULT_FEATURES, intervalS);
    return { dataset: buildDataset({ ...common, technical: rows, technicalNames: names }), sourceLabel: `file:${opts.source.path}` };
  }
  const { stores } = opts.source;
  const q = { ...(opts.source.fromMs !== undefined ? { from_ms: opts.source.fromMs } : {}), ...(opts.source.toMs !== undefined ? { to_ms: opts.source.toMs } : {}) };
  const technical = await stores.features.technical.range({ pair: opts.pair, interval_s: intervalS }, q);
  const names = opts.features ? [...opts.features] : Object.keys(technical[0]?.features ?? {});
  const coin = opts.pair.split('/')[0] ?? '';
  // Sentiment known by the first row: the latest row before the range, plus the rows in it.
  const first = technical[0]?.window_end_ms ?? 0;
  const before = await stores.features.sentiment.asOf({ coin }, first);
  const inRange = await stores.features.sentiment.range({ coin }, { from_ms: first, ...(q.to_ms !== undefined ? { to_ms: q.to_ms } : {}) });
  const sent = [...(before ? [before] : []), ...inRange];
  const withSentiment = sent.length > 0;
  // Order-book features of the pair when the store has them (as of t, at most BOOK_MAX_AGE_MS old; NaN elsewhere).
  const last = technical[technical.length - 1]?.window_end_ms;
  const book = technical.length > 0 ? await bookRowsFor(stores, opts.pair, intervalS, first, last) : null;
  const dataset = buildDataset({
    ...common,
    technical,
    technicalNames: names,
    ...(withSentiment ? { sentiment: sentimentLookup(sent), sentimentNames: SENTIMENT_FEATURE_NAMES } : {}),
    ...(book ? { book: bookLookup(book.rows), bookNames: Object.keys(book.rows[0]!.features), bookExchange: book.exchange } : {}),
  });
  return { dataset, ...(withSentiment ? { sentimentCoin: coin } : {}), sourceLabel: `store:features-technical ${opts.pair} ${intervalS}s` };
}

/** The current production model of a pair and non-price target, to refit on the same folds, or null. */
export async function currentTargetModel(registry: ModelRegistry, pair: string, family: string): Promise<CurrentTargetModel | null> {
  const version = await registry.production(pair, family);
  if (!version) return null;
  const m = await registry.meta(version);
  return m ? { version, kind: m.kind, params: m.params, featureNames: m.feature_names } : null;
}

/** The current production model of a pair, ready to re-evaluate, or null. */
export async function currentModel(registry: ModelRegistry, pair: string, logger?: Logger): Promise<CurrentModel | null> {
  const version = await registry.production(pair);
  if (!version) return null;
  const stored = await registry.load(version);
  if (!stored) return null;
  const m = stored.meta;
  try {
    return {
      version,
      kind: m.kind,
      params: m.params,
      featureNames: m.feature_names,
      target: m.target,
      dataToMs: m.data.to_ms,
      regressor: loadRegressor(m.kind, stored.modelText, m.feature_names),
    };
  } catch (err) {
    logger?.error({ err, version }, 'current production model cannot be loaded');
    throw err;
  }
}

export async function runTraining(opts: TrainingRunOptions): Promise<TrainingRunResult> {
  const { dataset, sentimentCoin, sourceLabel } = await datasetOf(opts);
  opts.logger?.info({ pair: opts.pair, rows: dataset.rows, dropped: dataset.dropped, features: dataset.featureNames.length, book_exchange: dataset.bookExchange ?? null }, 'dataset built');
  const kind = opts.kind ?? defaultKind();
  const target = targetOf(opts.target ?? DEFAULT_TARGET);
  if (target.family !== 'price') {
    const targetResult = await trainTargetAsync({
      dataset,
      kind,
      folds: opts.folds ?? 4,
      current: await currentTargetModel(opts.registry, opts.pair, target.family),
      intervalS: opts.intervalS ?? 60,
      ...(sentimentCoin ? { sentimentCoin } : {}),
      source: sourceLabel,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const html = renderTargetReport({ meta: targetResult.meta, evaluation: targetResult.evaluation, candidates: targetResult.candidates, dataset, importance: targetResult.model.importance() });
    const meta = await registerCandidate(opts.registry, targetResult.meta, targetResult.model.modelText(), html);
    opts.logger?.info({ pair: opts.pair, target: target.name, version: meta.version, status: meta.status, reason: meta.reason }, 'model registered');
    return { meta, targetResult, dataset };
  }
  const current = await currentModel(opts.registry, opts.pair, opts.logger);
  const result = trainModel({
    dataset,
    kind,
    ...(opts.params ? { params: opts.params } : {}),
    folds: opts.folds ?? 4,
    search: { trials: opts.trials ?? 6, budgetMs: opts.budgetMs ?? 120_000 },
    current,
    intervalS: opts.intervalS ?? 60,
    ...(sentimentCoin ? { sentimentCoin } : {}),
    source: sourceLabel,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const html = renderReport({ meta: result.meta, evaluation: result.evaluation, importance: result.regressor.importance() });
  const meta = await registerCandidate(opts.registry, result.meta, result.regressor.modelText(), html);
  opts.logger?.info({ pair: opts.pair, version: meta.version, status: meta.status, reason: meta.reason }, 'model registered');
  return { meta, result, dataset };
}
