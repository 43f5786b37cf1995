/**
 * The promotion rule of DESIGN.md, per (pair, target family): a new version
 * becomes `production` only if it beats its target's baselines (the price:
 * persistence, by price RMSE over every test row of every fold; the other
 * targets: their own rule in model/targets/) AND the current production
 * model of that pair and target on the same walk-forward evaluation.
 * Otherwise it is kept as `rejected`, with the reason.
 */
import type { ModelMeta } from './model-meta.ts';
import { familyOf, type ModelRegistry } from './model-registry.ts';
import { targetOf } from '../model/targets.ts';
import type { Scores } from '../model/target.ts';

export interface Decision {
  promote: boolean;
  reason: string;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(6) : String(x));

const numbers = (s: Record<string, number | null>): Scores => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v ?? Number.NaN]));

/**
 * Targets other than the price: the target's rule against its baselines on
 * the same folds, then (when there is a production model of that pair and
 * target) against the current model refitted on the same folds, by the
 * target's rank.
 */
function decideTarget(meta: Pick<ModelMeta, 'evaluation' | 'target'>): Decision {
  const target = targetOf(meta.target);
  const all = meta.evaluation.scores ?? {};
  const model = all.model;
  if (!model) return { promote: false, reason: 'no walk-forward evaluation (no test rows)' };
  const baselines: Record<string, Scores> = {};
  for (const b of target.baselines) if (all[b.name]) baselines[b.name] = numbers(all[b.name]!);
  const d = target.decide(numbers(model), baselines);
  if (!d.promote) return d;
  const cw = meta.evaluation.compared_with;
  if (cw === null) return { promote: true, reason: `${d.reason}; no production model before` };
  const cur = all.current;
  if (!cur) return { promote: false, reason: `current production model ${cw} could not be evaluated on the same folds${meta.evaluation.current_note ? `: ${meta.evaluation.current_note}` : ''}` };
  const rm = target.rank(numbers(model));
  const rc = target.rank(numbers(cur));
  if (!(rm < rc)) return { promote: false, reason: `does not beat the current production model ${cw}: ${target.primaryMetric} rank ${fmt(rm)} >= ${fmt(rc)}` };
  return { promote: true, reason: `${d.reason}; beats production ${cw} (${fmt(rm)} < ${fmt(rc)})` };
}

/** Pure: decide from the candidate's overall metrics. */
export function decidePromotion(meta: Pick<ModelMeta, 'evaluation' | 'target'>): Decision {
  if (targetOf(meta.target).family !== 'price') return decideTarget(meta);
  const o = meta.evaluation.overall;
  const m = o.model;
  const p = o.persistence;
  if (!m || !p || m.n === 0) return { promote: false, reason: 'no walk-forward evaluation (no test rows)' };
  if (!(m.rmse < p.rmse)) return { promote: false, reason: `does not beat persistence: RMSE ${fmt(m.rmse)} >= ${fmt(p.rmse)}` };
  const cw = meta.evaluation.compared_with;
  if (cw !== null) {
    const c = o.current;
    if (!c) return { promote: false, reason: `current production model ${cw} could not be evaluated on the same folds${meta.evaluation.current_note ? `: ${meta.evaluation.current_note}` : ''}` };
    if (!(m.rmse < c.rmse)) return { promote: false, reason: `does not beat the current production model ${cw}: RMSE ${fmt(m.rmse)} >= ${fmt(c.rmse)}` };
    return { promote: true, reason: `beats persistence (RMSE ${fmt(m.rmse)} < ${fmt(p.rmse)}) and production ${cw} (${fmt(c.rmse)})` };
  }
  return { promote: true, reason: `beats persistence (RMSE ${fmt(m.rmse)} < ${fmt(p.rmse)}); no production model before` };
}

/**
 * Save a trained version and apply the rule. `compared_with` in its meta must
 * name the production version it was evaluated against (null if none): if
 * production changed meanwhile, the comparison is stale and the candidate is
 * rejected (train again).
 */
export async function registerCandidate(
  registry: ModelRegistry,
  meta: ModelMeta,
  modelText: string,
  reportHtml: string | null,
): Promise<ModelMeta & Decision> {
  const current = await registry.production(meta.pair, familyOf(meta));
  let d = decidePromotion(meta);
  if (d.promote && current !== meta.evaluation.compared_with) {
    d = { promote: false, reason: `production changed during training (now ${current}, evaluated against ${meta.evaluation.compared_with})` };
  }
  await registry.save({ ...meta, status: d.promote ? 'candidate' : 'rejected', reason: d.reason }, modelText, reportHtml);
  const saved = d.promote ? await registry.promote(meta.version, d.reason) : ((await registry.meta(meta.version)) as ModelMeta);
  return { ...saved, ...d };
}
