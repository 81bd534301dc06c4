/**
 * PiSSA: A, B from the top-r SVD of W, A = √(Σ_r/s) V_rᵀ and B = U_r √(Σ_r/s) with s = alpha/r,
 * so s·B A = U_r Σ_r V_rᵀ; both trained, the base is the residual. Also CoLoRA's `shared_init: svd`.
 */
import { topSvd } from '../weight-decomposition.js';
import type { AdapterKindSpec } from './adapter-kind.js';

export const pissa = {
  name: 'pissa',
  freezesAB: false,
  decompose(w, r, s, svdSeed) {
    const { U, sigma, Vt } = topSvd(w, r, svdSeed);
    const nIn = w.inFeatures;
    const root = Array.from(sigma, (v) => Math.sqrt(v / s));
    const A = new Float32Array(r * nIn);
    const B = new Float32Array(w.outFeatures * r);
    for (let j = 0; j < r; j++) for (let i = 0; i < nIn; i++) A[j * nIn + i] = root[j] * Vt[j * nIn + i];
    for (let o = 0; o < w.outFeatures; o++) for (let j = 0; j < r; j++) B[o * r + j] = U[o * r + j] * root[j];
    return { A, B };
  },
} as const satisfies AdapterKindSpec;
