/**
 * Embedded start-up: when a pair has no production model, train one on the
 * bundled candle sample (data/sample/candles, Apache-2.0 Coinbase bars), or
 * on the feature store when it already holds enough history, and promote it
 * if it beats the baselines (the usual rule). LightGBM when the binding is
 * built; if that candidate is rejected, the ridge model is tried too.
 * Then every other target family (volatility, range, direction) without a
 * production model is trained the same way (LightGBM only; one run each).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Stores } from '../stores/types.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { defaultKind, runTraining, type TrainingRunResult, type TrainingSource } from './training-run.ts';
import { families } from '../model/targets.ts';

export interface BootstrapOptions {
  registry: ModelRegistry;
  stores?: Stores;
  pair: string;
  /** Folder of coinbase_<BASE><QUOTE>_1m_lean.csv files. */
  sampleDir: string;
  logger: Logger;
  /** Store rows needed to train from the store instead of the sample (default 5000 ≈ 3.5 days). */
  minStoreRows?: number;
  trials?: number;
  budgetMs?: number;
}

export type BootstrapOutcome =
  | { kind: 'exists'; version: string }
  | { kind: 'no_data'; reason: string }
  | { kind: 'trained'; runs: TrainingRunResult[]; production: string | null; targets?: Record<string, string | null> };

export function sampleFile(sampleDir: string, pair: string): string {
  return join(sampleDir, `coinbase_${pair.replace('/', '')}_1m_lean.csv`);
}

/**
 * The price model (bootstrapModel) and then the other target families: each
 * trained when it has no production model. Returns the production version of
 * every family afterwards (null: none beat its baselines).
 */
export async function bootstrapAllTargets(opts: BootstrapOptions): Promise<Record<string, string | null>> {
  const price = await bootstrapModel(opts);
  const out: Record<string, string | null> = { price: price.kind === 'exists' ? price.version : price.kind === 'trained' ? price.production : null };
  if (price.kind === 'no_data') return out;
  return { ...out, ...(await bootstrapOtherTargets(opts)) };
}

/** The target families other than the price, each trained when it has no production model (LightGBM only). */
export async function bootstrapOtherTargets(opts: BootstrapOptions): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  if (defaultKind() !== 'lightgbm') return out;
  const source = await sourceOf(opts);
  if (source.kind === 'file' && !existsSync(source.path)) return out;
  for (const t of families()) {
    if (t.family === 'price') continue;
    const existing = await opts.registry.production(opts.pair, t.family);
    if (existing) {
      out[t.family] = existing;
      continue;
    }
    try {
      const r = await runTraining({ registry: opts.registry, pair: opts.pair, source, kind: 'lightgbm', target: t.name, folds: 4, logger: opts.logger });
      out[t.family] = r.meta.status === 'production' ? r.meta.version : null;
      if (r.meta.status !== 'production') opts.logger.warn({ pair: opts.pair, target: t.name, reason: r.meta.reason }, 'bootstrap model did not beat its baselines: no production model for this target');
    } catch (err) {
      opts.logger.error({ err, pair: opts.pair, target: t.name }, 'bootstrap training failed');
      out[t.family] = null;
    }
  }
  return out;
}

async function sourceOf(opts: BootstrapOptions): Promise<TrainingSource> {
  if (opts.stores) {
    const latest = await opts.stores.features.technical.range({ pair: opts.pair, interval_s: 60 }, { order: 'desc', limit: opts.minStoreRows ?? 5000 });
    if (latest.length >= (opts.minStoreRows ?? 5000)) return { kind: 'store', stores: opts.stores };
  }
  return { kind: 'file', path: sampleFile(opts.sampleDir, opts.pair) };
}

export async function bootstrapModel(opts: BootstrapOptions): Promise<BootstrapOutcome> {
  const log = opts.logger;
  const existing = await opts.registry.production(opts.pair);
  if (existing) return { kind: 'exists', version: existing };
  let source: TrainingSource | null = null;
  if (opts.stores) {
    const latest = await opts.stores.features.technical.range({ pair: opts.pair, interval_s: 60 }, { order: 'desc', limit: opts.minStoreRows ?? 5000 });
    if (latest.length >= (opts.minStoreRows ?? 5000)) source = { kind: 'store', stores: opts.stores };
  }
  const file = sampleFile(opts.sampleDir, opts.pair);
  if (!source && existsSync(file)) source = { kind: 'file', path: file };
  if (!source) {
    const reason = `no production model for ${opts.pair} and no bundled sample ${file}: predictions start after \`tickcast train --pair ${opts.pair}\``;
    log.warn({ pair: opts.pair }, reason);
    return { kind: 'no_data', reason };
  }
  log.info({ pair: opts.pair, source: source.kind === 'file' ? source.path : 'feature store' }, 'no production model: training one');
  const runs: TrainingRunResult[] = [];
  const kinds = defaultKind() === 'lightgbm' ? (['lightgbm', 'ridge'] as const) : (['ridge'] as const);
  for (const kind of kinds) {
    const r = await runTraining({ registry: opts.registry, pair: opts.pair, source, kind, trials: opts.trials ?? 3, budgetMs: opts.budgetMs ?? 60_000, folds: 4, logger: log });
    runs.push(r);
    if (r.meta.status === 'production') break;
  }
  const production = await opts.registry.production(opts.pair);
  if (!production) log.warn({ pair: opts.pair, reasons: runs.map((r) => r.meta.reason) }, 'bootstrap model did not beat the baselines: no production model, no predictions for this pair');
  return { kind: 'trained', runs, production };
}
