/** SVFit: A = V_rᵀ, B = U_r frozen; only the r singular values D = Σ_r / s train; the base is the residual. */
import { topSvd } from '../weight-decomposition.js';
import type { AdapterKindSpec } from './adapter-kind.js';

export const svfit = {
  name: 'svfit',
  freezesAB: true,
  decompose(w, r, s, svdSeed) {
    const { U, sigma, Vt } = topSvd(w, r, svdSeed);
    return { A: Float32Array.from(Vt), B: Float32Array.from(U), D: Float32Array.from(sigma, (v) => v / s) };
  },
} as const satisfies AdapterKindSpec;
