/**
 * Serving one model of one target: a feature row (plus sentiment as of t, the
 * order-book features as of t when the model was trained with them, and,
 * when the target uses them, the context features of t, computed once per
 * row for every target: contextFromCloses) in, the target's published values
 * out. Buffers are allocated once per model, so a
 * prediction allocates only its result. The technical values of a row are
 * read from its `features` object once per row and name order (a shared
 * encoder keyed by the order, remembering the last row object it read: rows
 * are messages, never mutated), then copied into each model's input; the
 * targets of a pair are trained on the same technical columns, so the four
 * targets of a row do one lookup pass. Used by the predictor service and by
 * bench/predict.ts.
 */
import type { BookFeatures, TechnicalFeatures } from '../contracts/messages.ts';
import type { SentimentFeatures } from '../stores/types.ts';
import { BACKENDS, type ModelKind } from './backends.ts';
import { CONTEXT_FEATURES } from './context-features.ts';
import { bookValues, featureVector } from './feature-row.ts';
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
  /** Book feature names joined after the sentiment (absent or empty: none). */
  book_features?: readonly string[];
  context_features?: readonly string[];
}

/** `outputs` of an ok outcome: the model's raw outputs (the target's `outputs`, e.g. the range's log-return quantiles); a buffer the next predict overwrites. */
export type PredictOutcome = { kind: 'ok'; values: Record<string, number>; outputs: Float64Array } | { kind: 'warming_up' } | { kind: 'no_context' } | { kind: 'bad_output'; outputs: number[] };

/** The technical values of a row in one name order, read once per row object and shared by every model with that order. */
class TechnicalEncoder {
  readonly values: Float64Array;
  private last: TechnicalFeatures | null = null;
  private ok = false;
  constructor(readonly names: readonly string[]) {
    this.values = new Float64Array(names.length);
  }
  /** True when every value is present (then in `values`); false while the row warms up. */
  encode(row: TechnicalFeatures): boolean {
    if (row === this.last) return this.ok;
    this.last = row;
    this.ok = featureVector(row, this.names, null, [], this.values) !== null;
    return this.ok;
  }
}

const encoders = new Map<string, TechnicalEncoder>();
function encoderOf(names: readonly string[]): TechnicalEncoder {
  const key = names.join('\u0000');
  let e = encoders.get(key);
  if (!e) {
    // Bounded: one per distinct column order ever served (a handful); a fresh map if something churns through many.
    if (encoders.size >= 64) encoders.clear();
    e = new TechnicalEncoder([...names]);
    encoders.set(key, e);
  }
  return e;
}

export class TargetPredictor {
  readonly target: Target;
  readonly model: TargetModel;
  private readonly row: Float64Array;
  private readonly out: Float64Array;
  private readonly nFs: number;
  private readonly nT: number;
  private readonly sentimentNames: readonly string[];
  private readonly bookNames: readonly string[];
  private readonly encoder: TechnicalEncoder;
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
    this.nT = served.technical_features.length;
    this.sentimentNames = served.sentiment_features;
    this.bookNames = served.book_features ?? [];
    this.nFs = this.nT + served.sentiment_features.length + this.bookNames.length;
    this.encoder = encoderOf(served.technical_features);
    this.row = new Float64Array(served.feature_names.length);
    this.out = new Float64Array(this.target.outputs.length);
  }

  /** True when the model takes order-book features (then pass the book as of t to predict). */
  get usesBook(): boolean {
    return this.bookNames.length > 0;
  }

  /**
   * The published values for a row whose close is row.close; context: the CONTEXT_FEATURES
   * values at t (targets that use them); book: the book row to join at t (model/feature-row.ts
   * bookAsOfAge), or null: missing values, as in training.
   */
  predict(row: TechnicalFeatures, sentiment: SentimentFeatures | null, context: ArrayLike<number> | null, book: BookFeatures | null = null): PredictOutcome {
    if (!this.encoder.encode(row)) return { kind: 'warming_up' };
    this.row.set(this.encoder.values);
    for (let j = 0; j < this.sentimentNames.length; j++) {
      const v = sentiment?.features[this.sentimentNames[j] as string];
      this.row[this.nT + j] = v === null || v === undefined ? Number.NaN : v;
    }
    if (this.bookNames.length > 0) bookValues(book, this.bookNames, this.row, this.nT + this.sentimentNames.length);
    if (this.usesContext) {
      if (context === null) return { kind: 'no_context' };
      for (let j = 0; j < CONTEXT_FEATURES.length; j++) this.row[this.nFs + j] = context[j] as number;
    }
    const o = this.model.predict(this.row, this.out);
    for (let i = 0; i < o.length; i++) if (!Number.isFinite(o[i] as number)) return { kind: 'bad_output', outputs: [...o] };
    return { kind: 'ok', values: this.target.publish(o, row.close), outputs: o };
  }
}
