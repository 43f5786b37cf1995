/**
 * The backend registry: every way to fit one column of outputs from feature
 * rows, behind one small interface, so the targets, the trainer, the registry
 * and the predictor do not depend on how a model is implemented:
 * - `lightgbm`: the @tickcast/lightgbm native binding (gradient boosted trees;
 *   any LightGBM objective: regression, gamma, quantile, binary);
 * - `ridge`: the closed-form linear model of ridge.ts (also a baseline, and
 *   the OLS of HAR-RV with a negligible penalty).
 * A backend gives its default parameters, its search space, train, load (a
 * model is saved as text, `modelText()`), single-row predict and importance.
 * Target-specific baselines that are not fitted on feature rows (persistence,
 * EWMA, base rates) live with their target in targets/.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fitRidge, predictRidge, type RidgeModel } from './ridge.ts';

export type ModelKind = 'lightgbm' | 'ridge';
export const MODEL_KINDS: readonly ModelKind[] = ['lightgbm', 'ridge'];
export type ModelParams = Record<string, string | number | boolean>;

export interface Regressor {
  readonly kind: ModelKind;
  readonly featureNames: readonly string[];
  /** One row (featureNames.length values; NaN = missing). */
  predict(row: Float64Array): number;
  /** Row-major rows. */
  predictBatch(x: Float64Array): Float64Array;
  modelText(): string;
  /** Importance per feature (gain for trees, |standardized weight| for ridge). */
  importance(): number[];
  /** Boosting rounds kept (trees) or null. */
  readonly iterations: number | null;
}

export interface TrainInput {
  x: Float64Array;
  y: Float64Array;
  featureNames: readonly string[];
  params: ModelParams;
  /** Validation rows for early stopping (trees only). */
  valid?: { x: Float64Array; y: Float64Array };
}

// ---- LightGBM binding (loaded lazily; the rest works without it) ----
// Its types are the generated napi declarations (crates/lightgbm/node/index.d.ts).

type LgbAddon = typeof import('@tickcast/lightgbm');
type LgbBooster = LgbAddon['Booster']['prototype'];
type LgbFast = ReturnType<LgbBooster['fastPredictor']>;

let addon: LgbAddon | null | undefined;
let addonError = '';

/** The LightGBM binding, or null (with `lightgbmUnavailableReason()`) when it is not built. */
export function lightgbm(): LgbAddon | null {
  if (addon !== undefined) return addon;
  const req = createRequire(import.meta.url);
  const here = dirname(fileURLToPath(import.meta.url));
  const errors: string[] = [];
  for (const id of ['@tickcast/lightgbm', resolve(here, '../../../crates/lightgbm/node/index.js')]) {
    try {
      addon = req(id) as LgbAddon;
      return addon;
    } catch (e) {
      errors.push(`${id}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  addonError = `the LightGBM binding is not built (${errors.join('; ')}); build it with: cd crates/lightgbm/node && npm run build`;
  addon = null;
  return null;
}

export function lightgbmUnavailableReason(): string {
  lightgbm();
  return addonError;
}

class LightgbmRegressor implements Regressor {
  readonly kind = 'lightgbm' as const;
  private readonly fast: LgbFast;
  constructor(
    private readonly booster: LgbBooster,
    readonly featureNames: readonly string[],
  ) {
    this.fast = booster.fastPredictor();
  }
  get iterations(): number {
    return this.booster.bestIteration > 0 ? this.booster.bestIteration : this.booster.numIterations;
  }
  predict(row: Float64Array): number {
    return this.fast.predict(row);
  }
  predictBatch(x: Float64Array): Float64Array {
    return this.booster.predict(x);
  }
  modelText(): string {
    return this.booster.modelText();
  }
  importance(): number[] {
    return [...this.booster.featureImportance('gain')];
  }
}

class RidgeRegressor implements Regressor {
  readonly kind = 'ridge' as const;
  readonly iterations = null;
  constructor(readonly model: RidgeModel) {}
  get featureNames(): readonly string[] {
    return this.model.featureNames;
  }
  predict(row: Float64Array): number {
    return predictRidge(this.model, row);
  }
  predictBatch(x: Float64Array): Float64Array {
    const k = this.model.featureNames.length;
    const out = new Float64Array(x.length / k);
    for (let i = 0; i < out.length; i++) out[i] = predictRidge(this.model, x.subarray(i * k, i * k + k));
    return out;
  }
  modelText(): string {
    return JSON.stringify(this.model);
  }
  importance(): number[] {
    return this.model.weights.map((w) => Math.abs(w));
  }
}

function requireLightgbm(): LgbAddon {
  const a = lightgbm();
  if (!a) throw new Error(lightgbmUnavailableReason());
  return a;
}

export function trainRegressor(kind: ModelKind, input: TrainInput): Regressor {
  if (kind === 'ridge') {
    const lambda = typeof input.params.lambda === 'number' ? input.params.lambda : 1e-3;
    return new RidgeRegressor(fitRidge(input.x, input.y, input.featureNames, lambda));
  }
  const a = requireLightgbm();
  const booster = a.Booster.train({
    x: input.x,
    y: input.y,
    nFeatures: input.featureNames.length,
    featureNames: [...input.featureNames],
    params: input.params,
    ...(input.valid ? { valid: input.valid } : {}),
  });
  return new LightgbmRegressor(booster, input.featureNames);
}

export function loadRegressor(kind: ModelKind, text: string, featureNames: readonly string[]): Regressor {
  if (kind === 'ridge') {
    const m = JSON.parse(text) as RidgeModel;
    if (m.kind !== 'ridge' || !Array.isArray(m.weights)) throw new Error('not a ridge model text');
    return new RidgeRegressor(m);
  }
  return new LightgbmRegressor(requireLightgbm().Booster.fromModelText(text), featureNames);
}

/** Library versions for the registry. */
export function libraryVersions(kind: ModelKind): Record<string, string> {
  const v: Record<string, string> = { node: process.versions.node };
  const req = createRequire(import.meta.url);
  for (const p of ['@tickcast/indicators']) {
    try {
      v[p] = (req(`${p}/package.json`) as { version: string }).version;
    } catch {
      v[p] = 'unknown';
    }
  }
  if (kind === 'lightgbm') {
    const a = lightgbm();
    v.lightgbm = a ? a.lightgbmVersion() : 'unavailable';
    v['@tickcast/lightgbm'] = '0.1.0';
  }
  return v;
}

/** One way to fit a model on feature rows. */
export interface Backend {
  readonly kind: ModelKind;
  /** Parameters used unless the caller or the target overrides them. */
  readonly defaultParams: ModelParams;
  /** The bounded search space (each trial draws one value per key, seeded); empty = nothing to search. */
  readonly searchSpace: Readonly<Record<string, readonly (number | string)[]>>;
  train(input: TrainInput): Regressor;
  load(text: string, featureNames: readonly string[]): Regressor;
}

const lightgbmBackend: Backend = {
  kind: 'lightgbm',
  defaultParams: {
    objective: 'regression',
    learning_rate: 0.05,
    num_leaves: 15,
    min_data_in_leaf: 200,
    feature_fraction: 0.8,
    bagging_fraction: 0.8,
    bagging_freq: 1,
    lambda_l2: 10,
    num_iterations: 300,
    early_stopping_round: 30,
    num_threads: 1,
    deterministic: true,
    seed: 7,
  },
  searchSpace: {
    learning_rate: [0.02, 0.05, 0.1],
    num_leaves: [7, 15, 31],
    min_data_in_leaf: [50, 200, 800],
    feature_fraction: [0.6, 0.8, 1],
    lambda_l2: [0, 10, 100],
  },
  train: (input) => trainRegressor('lightgbm', input),
  load: (text, names) => loadRegressor('lightgbm', text, names),
};

const ridgeBackend: Backend = {
  kind: 'ridge',
  defaultParams: { lambda: 1e-3 },
  searchSpace: {},
  train: (input) => trainRegressor('ridge', input),
  load: (text, names) => loadRegressor('ridge', text, names),
};

/** The backend registry. */
export const BACKENDS: Readonly<Record<ModelKind, Backend>> = { lightgbm: lightgbmBackend, ridge: ridgeBackend };

export function backendOf(kind: string): Backend {
  const b = (BACKENDS as Record<string, Backend | undefined>)[kind];
  if (!b) throw new Error(`unknown model kind ${JSON.stringify(kind)} (known: ${MODEL_KINDS.join(', ')})`);
  return b;
}

/** The default backend: lightgbm when the binding is built, else ridge. */
export function defaultKind(): ModelKind {
  return lightgbm() ? 'lightgbm' : 'ridge';
}
