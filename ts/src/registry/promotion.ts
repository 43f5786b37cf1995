/**
 * The promotion rule of DESIGN.md: a new version becomes `production` only if
 * it beats the persistence baseline AND the current production model on the
 * same walk-forward evaluation (price RMSE over every test row of every
 * fold). Otherwise it is kept as `rejected`, with the reason.
 */
import type { ModelMeta } from './model-meta.ts';
import type { ModelRegistry } from './model-registry.ts';

export interface Decision {
  promote: boolean;
  reason: string;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(6) : String(x));

/** Pure: decide from the candidate's overall metrics. */
export function decidePromotion(meta: Pick<ModelMeta, 'evaluation'>): Decision {
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
  const current = await registry.production(meta.pair);
  let d = decidePromotion(meta);
  if (d.promote && current !== meta.evaluation.compared_with) {
    d = { promote: false, reason: `production changed during training (now ${current}, evaluated against ${meta.evaluation.compared_with})` };
  }
  await registry.save({ ...meta, status: d.promote ? 'candidate' : 'rejected', reason: d.reason }, modelText, reportHtml);
  const saved = d.promote ? await registry.promote(meta.version, d.reason) : ((await registry.meta(meta.version)) as ModelMeta);
  return { ...saved, ...d };
}
