/**
 * The model input row of one feature message: technical features in the
 * model's order, then sentiment as of t, then (for the targets that use them)
 * the context features. Used by the dataset and by the predictor, so both
 * build the same vector.
 */
import type { TechnicalFeatures } from '../contracts/messages.ts';
import type { SentimentFeatures } from '../stores/types.ts';

/** The feature vector of one row (technical then sentiment); null if a technical value is missing. */
export function featureVector(
  row: TechnicalFeatures,
  technicalNames: readonly string[],
  sentiment: SentimentFeatures | null,
  sentimentNames: readonly string[],
  out: Float64Array = new Float64Array(technicalNames.length + sentimentNames.length),
): Float64Array | null {
  for (let i = 0; i < technicalNames.length; i++) {
    const v = row.features[technicalNames[i] as string];
    if (v === null || v === undefined || !Number.isFinite(v)) return null;
    out[i] = v;
  }
  for (let j = 0; j < sentimentNames.length; j++) {
    const v = sentiment?.features[sentimentNames[j] as string];
    out[technicalNames.length + j] = v === null || v === undefined ? Number.NaN : v;
  }
  return out;
}
