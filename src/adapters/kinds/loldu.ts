/** LoLDU: A = U_r (unit upper rows), B = P L_r frozen (LU with partial pivoting); only the diagonal D = pivots / s trains. */
import { luTopR } from '../weight-decomposition.js';
import type { AdapterKindSpec } from './adapter-kind.js';

export const loldu = {
  name: 'loldu',
  freezesAB: true,
  decompose(w, r, s) {
    const { PL, d, U } = luTopR(w, r);
    return { A: Float32Array.from(U), B: Float32Array.from(PL), D: Float32Array.from(d, (v) => v / s) };
  },
} as const satisfies AdapterKindSpec;
