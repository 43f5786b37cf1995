/**
 * The target registry: one line per target (its file in targets/ holds
 * everything else). `target` in a registry version is one of these names.
 */
import type { Target } from './target.ts';
import { priceTarget } from './targets/price.ts';
import { volatilityTarget } from './targets/volatility.ts';
import { rangeTarget } from './targets/range.ts';
import { directionTarget } from './targets/direction.ts';

export const TARGETS: ReadonlyMap<string, Target> = new Map<string, Target>([
  ['log_return', priceTarget('log_return')],
  ['price', priceTarget('price')],
  ['volatility', volatilityTarget],
  ['range', rangeTarget],
  ['direction', directionTarget],
]);

/** The default target (the price forecast from the log return). */
export const DEFAULT_TARGET = 'log_return';

export function targetOf(name: string): Target {
  const t = TARGETS.get(name);
  if (!t) throw new Error(`unknown target ${JSON.stringify(name)} (known: ${[...TARGETS.keys()].join(', ')})`);
  return t;
}

/** One target per family, the ones a pair gets a production model of (the price family by its default label). */
export function families(): Target[] {
  const seen = new Map<string, Target>();
  for (const t of TARGETS.values()) if (!seen.has(t.family)) seen.set(t.family, t);
  return [...seen.values()];
}
