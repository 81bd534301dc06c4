/**
 * exp at float32 accuracy for the fused kernels' JavaScript loops (used where WebAssembly SIMD
 * is unavailable or switched off, see src/engine/simd).
 *
 * V8's Math.exp / Math.tanh are correctly rounded double-precision routines (≈ 15–30 ns each
 * here); the kernels only need float32 results, and softmax / GELU / cross-entropy evaluate
 * millions of them per training step. fexp splits x·log2(e) = n + f with |f| ≤ 1/2, evaluates
 * 2^f = e^(f·ln 2) by its degree-7 Taylor polynomial (relative error < 6e-9, below float32's
 * 6e-8 rounding) and scales by 2^n from a table. Results below float32's normal range flush to 0.
 */

const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;
const C2 = 1 / 2;
const C3 = 1 / 6;
const C4 = 1 / 24;
const C5 = 1 / 120;
const C6 = 1 / 720;
const C7 = 1 / 5040;

/** 2^n for n in [-127, 128], at index n + 127. */
const POW2 = new Float64Array(256);
for (let i = 0; i < 256; i++) POW2[i] = 2 ** (i - 127);

/** e^x to float32 accuracy; 0 below -87.3, Infinity above 88.7, NaN for NaN. */
export function fexp(x: number): number {
  if (x < -87.3) return 0;
  if (x > 88.7) return Infinity;
  const t = x * LOG2E;
  const n = Math.floor(t + 0.5);
  const g = (t - n) * LN2;
  const p = 1 + g * (1 + g * (C2 + g * (C3 + g * (C4 + g * (C5 + g * (C6 + g * C7))))));
  return p * POW2[n + 127];
}

