/**
 * Model expiry (issue 18.5): a production model is expired when its pair and
 * target family have had no successful training for longer than the maximum
 * age (TICKCAST_MODEL_MAX_AGE_HOURS; 0 = never). "Successful training" = a
 * version of that pair and family stored in the registry (the trainer stores
 * a version only when training and its evaluation finished, whether it was
 * then promoted or not: a retrain that did not beat the production model
 * still confirms it). So the age is now minus the newest created_ms among the
 * versions of (pair, family), the production one included.
 *
 * Read by the monitor (alert `model_expired`, signal = hours past the limit)
 * and, when TICKCAST_MODEL_EXPIRED_STOP_SERVING is true, by the predictor
 * (stops serving an expired model).
 */
import type { ModelMeta } from '../registry/model-meta.ts';
import { familyOf, type ModelRegistry } from '../registry/model-registry.ts';

export interface ModelAge {
  pair: string;
  family: string;
  /** The production version. */
  version: string;
  /** Newest successful training of the pair and family (created_ms). */
  newest_training_ms: number;
  age_hours: number;
  /** age_hours - max age (> 0: expired). */
  over_hours: number;
  expired: boolean;
}

/** Is this production model expired, given the versions of the registry (pure)? maxAgeHours 0 = never. */
export function modelAge(production: Pick<ModelMeta, 'version' | 'pair' | 'target' | 'created_ms'>, versions: readonly Pick<ModelMeta, 'pair' | 'target' | 'created_ms'>[], nowMs: number, maxAgeHours: number): ModelAge {
  const family = familyOf(production);
  let newest = production.created_ms;
  for (const v of versions) if (v.pair === production.pair && familyOf(v) === family && v.created_ms > newest) newest = v.created_ms;
  const age = (nowMs - newest) / 3_600_000;
  return {
    pair: production.pair,
    family,
    version: production.version,
    newest_training_ms: newest,
    age_hours: age,
    over_hours: age - maxAgeHours,
    expired: maxAgeHours > 0 && age > maxAgeHours,
  };
}

/** Every production model of the registry with its age (one registry listing). */
export async function productionAges(registry: ModelRegistry, nowMs: number, maxAgeHours: number): Promise<ModelAge[]> {
  const all = await registry.list();
  return all.filter((m) => m.status === 'production').map((m) => modelAge(m, all, nowMs, maxAgeHours));
}

/** Expired or not, for the predictor: one (pair, family) listing. */
export async function isExpired(registry: ModelRegistry, meta: ModelMeta, nowMs: number, maxAgeHours: number): Promise<boolean> {
  if (maxAgeHours <= 0) return false;
  return modelAge(meta, await registry.list(meta.pair, familyOf(meta)), nowMs, maxAgeHours).expired;
}
