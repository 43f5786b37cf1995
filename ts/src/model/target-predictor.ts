/**
 * Serving one model of one target: a feature row (plus sentiment as of t and,
 * when the target uses them, the context features of t, computed once per
 * row for every target: contextFromCloses) in, the target's published values
 * out. Buffers are allocated once per model, so a
 * prediction allocates only its result. Used by the predictor service and by
 * bench/predict.ts.
 */
import type { TechnicalFeatures } from '../contracts/messages.ts';
import type { SentimentFeatures } from '../stores/types.ts';
import { BACKENDS, type ModelKind } from './backends.ts';
import { CONTEXT_FEATURES } from './context-features.ts';
import { featureVector } from './feature-row.ts';
import type { Target, TargetModel } from './target.ts';
import { targetOf } from './targets.ts';

/** What serving needs of a registry version. */
export interface ServedVersion {
  version: string;
  kind: ModelKind;
  target: string;
  feature_names: readonly string[];
  technical_features: readonly string[];
  sentiment_features: readonly string[];
  context_features?: readonly string[];
}

/** `outputs` of an ok outcome: the model's raw outputs (the target's `outputs`, e.g. the range's log-return quantiles); a buffer the next predict overwrites. */
export type PredictOutcome = { kind: 'ok'; values: Record<string, number>; outputs: Float64Array } | { kind: 'warming_up' } | { kind: 'no_context' } | { kind: 'bad_output'; outputs: number[] };

export class TargetPredictor {
  readonly target: Target;
  readonly model: TargetModel;
  private readonly row: Float64Array;
  private readonly out: Float64Array;
  private readonly nFs: number;
  readonly usesContext: boolean;

  constructor(
    readonly served: ServedVersion,
    modelText: string,
  ) {
    this.target = targetOf(served.target);
    if (!BACKENDS[served.kind]) throw new Error(`unknown model kind ${served.kind}`);
    this.model = this.target.load(served.kind, modelText, served.feature_names);
    this.usesContext = (served.context_features ?? []).length > 0;
    if (this.usesContext && (served.context_features ?? []).join(',') !== CONTEXT_FEATURES.join(',')) throw new Error(`model ${served.version} uses context features this build does not compute: ${served.context_features?.join(', ')}`);
    this.nFs = served.technical_features.length + served.sentiment_features.length;
    this.row = new Float64Array(served.feature_names.length);
    this.out = new Float64Array(this.target.outputs.length);
  }

  /** The published values for a row whose close is row.close; context: the CONTEXT_FEATURES values at t (targets that use them). */
  predict(row: TechnicalFeatures, sentiment: SentimentFeatures | null, context: ArrayLike<number> | null): PredictOutcome {
    const x = featureVector(row, this.served.technical_features, sentiment, this.served.sentiment_features, this.nFs === this.row.length ? this.row : this.row.subarray(0, this.nFs));
    if (x === null) return { kind: 'warming_up' };
    if (this.usesContext) {
      if (context === null) return { kind: 'no_context' };
      for (let j = 0; j < CONTEXT_FEATURES.length; j++) this.row[this.nFs + j] = context[j] as number;
    }
    const o = this.model.predict(this.row, this.out);
    for (let i = 0; i < o.length; i++) if (!Number.isFinite(o[i] as number)) return { kind: 'bad_output', outputs: [...o] };
    return { kind: 'ok', values: this.target.publish(o, row.close), outputs: o };
  }
}
