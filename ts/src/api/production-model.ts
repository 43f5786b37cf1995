/**
 * The API's view of the model registry: the production model of a pair as
 * `GET /v1/models/production` returns it (ProductionModelInfo), read from the
 * registry the predictor reads (folder or Elasticsearch) on every request, so
 * a promotion or a rollback shows at once.
 */
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { ModelMeta } from '../registry/model-meta.ts';
import type { ProductionModelInfo, ProductionModelProvider } from './schemas.ts';

/** Metric names of the walk-forward evaluation: the model's plain, the others prefixed. */
const PREFIX: Record<string, string> = { model: '', persistence: 'baseline_', ridge: 'ridge_', current: 'current_' };

/** The overall walk-forward metrics of a version, flattened: mae, rmse, ..., baseline_mae, ... (nulls left out). */
export function metricsOf(meta: ModelMeta): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [contender, metrics] of Object.entries(meta.evaluation.overall)) {
    if (!metrics) continue;
    const prefix = PREFIX[contender] ?? `${contender}_`;
    for (const [name, value] of Object.entries(metrics)) {
      if (typeof value === 'number' && Number.isFinite(value)) out[`${prefix}${name}`] = value;
    }
  }
  return out;
}

/** The reply for a production version's meta and the time it became production. */
export function productionModelInfo(meta: ModelMeta, promotedAtMs: number | null): ProductionModelInfo {
  return {
    pair: meta.pair,
    model_name: meta.model_name,
    model_version: meta.version,
    metrics: metricsOf(meta),
    trained_from_ms: meta.data.from_ms,
    trained_to_ms: meta.data.to_ms,
    ...(promotedAtMs !== null && promotedAtMs > 0 ? { promoted_at_ms: promotedAtMs } : {}),
    features: [...meta.feature_names],
  };
}

/** A ProductionModelProvider over a model registry. */
export function registryModels(registry: ModelRegistry): ProductionModelProvider {
  return {
    async production(pair: string) {
      const alias = await registry.backend.getAlias(pair);
      if (!alias?.version) return null;
      const meta = await registry.meta(alias.version);
      return meta ? productionModelInfo(meta, alias.updated_ms) : null;
    },
  };
}
