/**
 * Statistics over seeds: mean and sample standard deviation, and for paired differences (CoLoRA
 * minus a baseline, one number per seed; the methods of one seed share its data split and initial
 * A) the mean, a two-sided 95 % confidence interval from Student's t with n − 1 degrees of
 * freedom, and how many seeds came out ahead. With 3–5 seeds the interval is wide; it says whether
 * a difference stands out from seed-to-seed noise at all.
 */

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Sample standard deviation (0 for a single value). */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/** t_{0.975, df} for df = 1..30 (beyond: the normal 1.96 is within 2 %). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function t975(df: number): number {
  if (!(df >= 1)) return NaN;
  return df <= T975.length ? T975[Math.floor(df) - 1] : 1.96;
}

export interface PairedSummary {
  n: number;
  mean: number;
  /** 95 % interval for the mean difference (NaN for fewer than 2 seeds). */
  lo: number;
  hi: number;
  /** Seeds where the difference is > 0. */
  ahead: number;
}

export function pairedSummary(diffs: readonly number[]): PairedSummary {
  const n = diffs.length;
  const m = mean(diffs);
  const half = n >= 2 ? (t975(n - 1) * std(diffs)) / Math.sqrt(n) : NaN;
  return { n, mean: m, lo: m - half, hi: m + half, ahead: diffs.filter((d) => d > 0).length };
}

/** '[-3.1, +5.0]' (signs as in the Δ column), marked with * when the interval excludes 0. */
export function formatInterval(s: PairedSummary): string {
  if (!Number.isFinite(s.lo)) return '–';
  const f = (x: number) => `${x >= 0 ? '+' : '-'}${Math.abs(x).toFixed(1)}`;
  return `[${f(s.lo)}, ${f(s.hi)}]${s.lo > 0 || s.hi < 0 ? ' *' : ''}`;
}
