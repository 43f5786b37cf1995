/**
 * Classification metrics of the sentiment evaluation (pure functions).
 * Classes: negative / neutral / positive. A score maps to a class with a
 * symmetric threshold θ (default 0.1): s <= -θ negative, s >= θ positive,
 * |s| < θ neutral.
 */

export const CLASSES = ['negative', 'neutral', 'positive'] as const;
export type SentimentClass = (typeof CLASSES)[number];

export const DEFAULT_NEUTRAL_THRESHOLD = 0.1;

export function classOf(score: number, threshold: number = DEFAULT_NEUTRAL_THRESHOLD): SentimentClass {
  if (score <= -threshold) return 'negative';
  if (score >= threshold) return 'positive';
  return 'neutral';
}

/** Confusion matrix: rows = true class, columns = predicted class, in CLASSES order. */
export type Confusion = number[][];

export function confusionMatrix(truth: readonly SentimentClass[], pred: readonly SentimentClass[]): Confusion {
  if (truth.length !== pred.length) throw new RangeError('truth and pred differ in length');
  const m = CLASSES.map(() => CLASSES.map(() => 0));
  for (let i = 0; i < truth.length; i++) m[CLASSES.indexOf(truth[i]!)]![CLASSES.indexOf(pred[i]!)]!++;
  return m;
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  n: number;
  accuracy: number;
  /** Unweighted mean of the per-class F1 over the classes present in truth or predictions. */
  macro_f1: number;
  per_class: Record<SentimentClass, ClassMetrics>;
  confusion: Confusion;
}

/**
 * Precision = TP / predicted, recall = TP / actual, F1 = 2PR / (P + R); each is
 * 0 when its denominator is 0. Macro-F1 averages over classes that occur in
 * the truth or the predictions (a class absent from both is left out).
 */
export function classificationReport(confusion: Confusion): ClassificationReport {
  const k = CLASSES.length;
  let n = 0;
  let correct = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
    n += confusion[i]![j]!;
    if (i === j) correct += confusion[i]![j]!;
  }
  const per = {} as Record<SentimentClass, ClassMetrics>;
  const f1s: number[] = [];
  CLASSES.forEach((c, i) => {
    const tp = confusion[i]![i]!;
    const actual = confusion[i]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[i]!, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = actual ? tp / actual : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    per[c] = { precision, recall, f1, support: actual };
    if (actual + predicted > 0) f1s.push(f1);
  });
  return {
    n,
    accuracy: n ? correct / n : 0,
    macro_f1: f1s.length ? f1s.reduce((a, b) => a + b, 0) / f1s.length : 0,
    per_class: per,
    confusion,
  };
}

/** Nearest-rank percentile (p in (0, 100]) of a list; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
