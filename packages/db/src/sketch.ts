/**
 * The mergeable percentile sketch stored in the 1-minute and 1-hour
 * aggregates (a DDSketch-style log histogram, computed with core SQL only:
 * the TimescaleDB Toolkit is not in the embedded build and plain PostgreSQL
 * has no timescaledb at all).
 *
 * A value v with |v| >= SKETCH_MIN_MAGNITUDE falls in bin
 * sign(v) * (floor(ln(|v| / MIN) / ln γ) + 1), with γ = (1 + α) / (1 − α);
 * smaller magnitudes fall in bin 0. Every value in a bin is within a relative
 * error α of the bin's representative value, so a percentile read from the
 * sketch is within α (relative) of the exact nearest-rank percentile (the
 * value percentile_disc returns), and within 1e-9 absolute near zero.
 *
 * A sketch is an int8[] of (bin << 32 | count), sorted by bin: sketches merge
 * by adding counts per bin, so a chart bucket of any multiple of the
 * aggregate's bucket is answered from the aggregate rows.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.01;

/** Magnitudes below this share bin 0 (representative value 0). */
export const SKETCH_MIN_MAGNITUDE = 1e-9;

const GAMMA = (1 + SKETCH_RELATIVE_ACCURACY) / (1 - SKETCH_RELATIVE_ACCURACY);

/**
 * ln γ and ln(1 / MIN) as SQL literals, written out so the SQL function and
 * this file agree to the last digit (checked by sketch.test.ts).
 */
export const SKETCH_LN_GAMMA_SQL = "0.020000666706669435";
export const SKETCH_LN_INV_MIN_SQL = "20.72326583694641";

/** The literals as numbers, and ln of the representative point's offset in its bin: computed once, not per bin. */
const LN_GAMMA = Number(SKETCH_LN_GAMMA_SQL);
const LN_INV_MIN = Number(SKETCH_LN_INV_MIN_SQL);
const LN_MIDPOINT = Math.log(2 / (1 + GAMMA));

/** The value a bin stands for: the point with equal relative distance to both bin edges. */
export function sketchBinValue(bin: number): number {
  if (bin === 0) return 0;
  // In log space: γ^k alone overflows for the largest doubles' bins.
  const k = Math.abs(bin);
  const ln = k * LN_GAMMA - LN_INV_MIN + LN_MIDPOINT;
  const value = Math.min(Math.exp(ln), Number.MAX_VALUE);
  return bin < 0 ? -value : value;
}

/**
 * The bin of a value, as the SQL function vigil_sketch_bin computes it
 * (for tests and for code that builds sketches outside the database).
 */
export function sketchBin(value: number): number {
  const magnitude = Math.abs(value);
  if (magnitude < SKETCH_MIN_MAGNITUDE) return 0;
  const k = Math.floor((Math.log(magnitude) + LN_INV_MIN) / LN_GAMMA) + 1;
  return value < 0 ? -k : k;
}

/**
 * The nearest-rank position of quantile q among n values: the 1-based rank
 * percentile_disc picks, ceil(q·n), at least 1. q is given in hundredths
 * (50, 95, 99) so the arithmetic is exact.
 */
export function nearestRank(percent: number, n: number): number {
  return Math.max(1, Math.ceil((percent * n) / 100));
}
