/**
 * The Theil–Sen estimator: the slope of a line through points is the median
 * of the slopes between every pair of points, the intercept the median of
 * y − slope·x. Up to about 29 % of the points can be arbitrarily wrong
 * before the slope follows them (its breakdown point), unlike least squares
 * where one wild point moves the line; and since every pair is weighed by
 * its own x distance, missing points (gaps) shift nothing, they only leave
 * fewer pairs.
 *
 * The confidence interval of the slope is Sen's (1968): distribution-free,
 * from the order statistics of the pairwise slopes around the median, with
 * the normal approximation of Kendall's S (variance n(n−1)(2n+5)/18).
 */
export interface TheilSenFit {
  slope: number;
  intercept: number;
  /** Confidence interval of the slope; equal to slope when n is too small for one. */
  slopeLow: number;
  slopeHigh: number;
  /** Points the fit used. */
  n: number;
}

/** z of the two-sided 90 % interval. */
export const Z_90 = 1.6448536269514722;

/**
 * Fits y = intercept + slope·x. Needs at least two distinct x. `z` sets the
 * interval (1.645: 90 %). O(n²) time and memory in the pairs: callers keep n
 * to a few hundred (daily points of a bounded window).
 */
export function theilSen(xs: ArrayLike<number>, ys: ArrayLike<number>, z = Z_90): TheilSenFit | undefined {
  const n = xs.length;
  if (n !== ys.length) throw new RangeError("xs and ys differ in length");
  const slopes = new Float64Array((n * (n - 1)) / 2);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const xi = xs[i]!;
    const yi = ys[i]!;
    for (let j = i + 1; j < n; j++) {
      const dx = xs[j]! - xi;
      if (dx !== 0) slopes[m++] = (ys[j]! - yi) / dx;
    }
  }
  if (m === 0) return undefined;
  // Three order statistics of the slopes, by selection (linear) rather than a full sort.
  const all = slopes.subarray(0, m);
  const slope = median(all);
  const residuals = new Float64Array(n);
  for (let i = 0; i < n; i++) residuals[i] = ys[i]! - slope * xs[i]!;
  const intercept = median(residuals);
  // Sen's interval: ranks (N − C)/2 and (N + C)/2 + 1 (1-based) of the N sorted slopes.
  const c = z * Math.sqrt((n * (n - 1) * (2 * n + 5)) / 18);
  const lowRank = Math.round((m - c) / 2);
  const highRank = Math.round((m + c) / 2) + 1;
  const slopeLow = lowRank >= 1 ? select(all, lowRank - 1) : Number.NEGATIVE_INFINITY;
  const slopeHigh = highRank <= m ? select(all, highRank - 1) : Number.POSITIVE_INFINITY;
  return { slope, intercept, slopeLow, slopeHigh, n };
}

/** The median of the values (reorders them). */
function median(a: Float64Array): number {
  const mid = a.length >> 1;
  const upper = select(a, mid);
  if (a.length % 2 === 1) return upper;
  // After selecting mid, everything before it is no greater: the lower middle is their maximum.
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < mid; i++) if (a[i]! > lower) lower = a[i]!;
  return (lower + upper) / 2;
}

/**
 * The k-th smallest value (0-based) of `a`, which it reorders so that
 * a[k] holds it, smaller values come before and larger after (Hoare's
 * quickselect, middle pivot: expected linear time).
 */
export function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k]!;
}
