/**
 * Ridge regression in closed form, written plainly: standardize each column
 * (mean 0, sd 1 on the training rows), center y, solve
 * (ZᵀZ + λ n I) β = Zᵀ(y - ȳ) by Cholesky, intercept ȳ (not penalized).
 * Columns that are not finite on every training row (e.g. sentiment without
 * news) or constant are left out (weight 0).
 */
export interface RidgeModel {
  kind: 'ridge';
  featureNames: string[];
  lambda: number;
  intercept: number;
  /** Per input column: mean, sd and weight on the standardized value (0 when unused). */
  means: number[];
  sds: number[];
  weights: number[];
}

export function fitRidge(x: Float64Array, y: Float64Array, featureNames: readonly string[], lambda = 1e-3): RidgeModel {
  const k = featureNames.length;
  const n = y.length;
  if (x.length !== n * k) throw new RangeError(`x has ${x.length} values, expected ${n} x ${k}`);
  const means = new Array<number>(k).fill(0);
  const sds = new Array<number>(k).fill(0);
  const used: number[] = [];
  for (let j = 0; j < k; j++) {
    let s = 0;
    let finite = true;
    for (let i = 0; i < n; i++) {
      const v = x[i * k + j] as number;
      if (!Number.isFinite(v)) finite = false;
      s += v;
    }
    if (!finite || n === 0) continue;
    const m = s / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += ((x[i * k + j] as number) - m) ** 2;
    const sd = Math.sqrt(ss / n);
    means[j] = m;
    sds[j] = sd;
    if (sd > 0) used.push(j);
  }
  let ym = 0;
  for (let i = 0; i < n; i++) ym += y[i] as number;
  ym = n ? ym / n : 0;
  const p = used.length;
  const a = new Float64Array(p * p);
  const b = new Float64Array(p);
  const z = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    for (let u = 0; u < p; u++) {
      const j = used[u] as number;
      z[u] = ((x[i * k + j] as number) - (means[j] as number)) / (sds[j] as number);
    }
    const yc = (y[i] as number) - ym;
    for (let u = 0; u < p; u++) {
      b[u] = (b[u] as number) + (z[u] as number) * yc;
      for (let v = 0; v <= u; v++) a[u * p + v] = (a[u * p + v] as number) + (z[u] as number) * (z[v] as number);
    }
  }
  for (let u = 0; u < p; u++) {
    a[u * p + u] = (a[u * p + u] as number) + lambda * n;
    for (let v = 0; v < u; v++) a[v * p + u] = a[u * p + v] as number;
  }
  const beta = choleskySolve(a, b, p);
  const weights = new Array<number>(k).fill(0);
  used.forEach((j, u) => (weights[j] = beta[u] as number));
  return { kind: 'ridge', featureNames: [...featureNames], lambda, intercept: ym, means, sds, weights };
}

/** Solve A x = b for a symmetric positive definite A (p x p, row-major). */
export function choleskySolve(a: Float64Array, b: Float64Array, p: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j] as number;
      for (let q = 0; q < j; q++) s -= (l[i * p + q] as number) * (l[j * p + q] as number);
      if (i === j) {
        if (!(s > 0)) throw new RangeError('matrix is not positive definite');
        l[i * p + i] = Math.sqrt(s);
      } else l[i * p + j] = s / (l[j * p + j] as number);
    }
  }
  const w = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i] as number;
    for (let q = 0; q < i; q++) s -= (l[i * p + q] as number) * (w[q] as number);
    w[i] = s / (l[i * p + i] as number);
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = w[i] as number;
    for (let q = i + 1; q < p; q++) s -= (l[q * p + i] as number) * (x[q] as number);
    x[i] = s / (l[i * p + i] as number);
  }
  return x;
}

export function predictRidge(m: RidgeModel, row: ArrayLike<number>): number {
  let s = m.intercept;
  for (let j = 0; j < m.weights.length; j++) {
    const w = m.weights[j] as number;
    if (w !== 0) s += (w * ((row[j] as number) - (m.means[j] as number))) / (m.sds[j] as number);
  }
  return s;
}
