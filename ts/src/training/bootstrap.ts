/**
 * Embedded start-up: when a pair has no production model, train one on the
 * bundled candle sample (data/sample/candles, Apache-2.0 Coinbase bars), or
 * on the feature store when it already holds enough history, and promote it
 * if it beats the baselines (the usual rule). LightGBM when the binding is
 * built; if that candidate is rejected, the ridge model is tried too.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Stores } from '../stores/types.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { defaultKind, runTraining, type TrainingRunResult, type TrainingSource } from './training-run.ts';

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
  | { kind: 'trained'; runs: TrainingRunResult[]; production: string | null };

export function sampleFile(sampleDir: string, pair: string): string {
  return join(sampleDir, `coinbase_${pair.replace('/', '')}_1m_lean.csv`);
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
