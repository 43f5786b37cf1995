/**
 * Price forecast metrics, all on prices (not on the model's target):
 * - MAE = mean |p̂ - p|, RMSE = sqrt(mean (p̂ - p)²), MAPE = mean |p̂ - p| / p × 100;
 * - directional accuracy: over rows where the price moved (p ≠ last), the
 *   share where the predicted move p̂ - last has the sign of the actual move
 *   p - last. A predicted move of exactly 0 (persistence) scores 1/2, a coin
 *   flip, so "no opinion" is neither right nor wrong. NaN when nothing moved.
 */
export interface PriceMetrics {
  n: number;
  mae: number;
  rmse: number;
  mape: number;
  directional_accuracy: number;
}

export function priceMetrics(predicted: readonly number[], actual: readonly number[], last: readonly number[]): PriceMetrics {
  const n = actual.length;
  if (predicted.length !== n || last.length !== n) throw new RangeError('predicted, actual and last must have the same length');
  let ae = 0;
  let se = 0;
  let ape = 0;
  let moved = 0;
  let right = 0;
  for (let i = 0; i < n; i++) {
    const p = predicted[i] as number;
    const a = actual[i] as number;
    const l = last[i] as number;
    const e = p - a;
    ae += Math.abs(e);
    se += e * e;
    ape += Math.abs(e) / Math.abs(a);
    const am = Math.sign(a - l);
    if (am !== 0) {
      moved++;
      const pm = Math.sign(p - l);
      right += pm === 0 ? 0.5 : pm === am ? 1 : 0;
    }
  }
  return {
    n,
    mae: n ? ae / n : Number.NaN,
    rmse: n ? Math.sqrt(se / n) : Number.NaN,
    mape: n ? (ape / n) * 100 : Number.NaN,
    directional_accuracy: moved ? right / moved : Number.NaN,
  };
}
