/**
 * flexlora (FlexLoRA, Bai et al., NeurIPS 2024): clients train and send A_k, B_k; the server
 * forms the weighted mean of the products ΔW_k = (alpha/r) B_k A_k (weights = examples) and sends
 * back its rank-r truncated SVD U_r Σ_r V_rᵀ as B = U_r Σ_r / (alpha/r), A = V_rᵀ (Σ goes to B and
 * A has orthonormal rows, as FlexLoRA's redistribution writes it). The mean is never formed when
 * the factors are smaller (methods/low-rank.ts). Every client uses the same rank r here.
 */
import { scaling } from '../adapters/config.js';
import type { FitResult } from './strategy.js';
import { exampleWeights } from './aggregate.js';
import { truncatedSvdOfSum } from './low-rank.js';
import { SharedFactorStrategy } from './shared-factors.js';
import type { StrategyContext, StrategyFactory } from './strategy.js';

export class FlexLoRAStrategy extends SharedFactorStrategy {
  constructor(ctx: StrategyContext) {
    super('flexlora', ctx, { shared: ['A', 'B'], trainable: ['A', 'B'] });
  }

  override aggregateFit(_round: number, results: readonly FitResult[]): void {
    if (results.length === 0) return;
    const r = this.adapterConfig.rank;
    const scale = scaling(this.adapterConfig);
    const weights = exampleWeights(results);
    for (const [layer, f] of this.global) {
      const out = f.B.length / r;
      const inF = f.A.length / r;
      const terms = results.map((res, i) => {
        const u = res.upload.get(layer);
        if (!u?.A || !u.B) throw new Error(`upload of ${res.unit} lacks ${layer}.A or .B`);
        return { B: u.B, A: u.A, weight: weights[i] * scale };
      });
      const { U, sigma, V } = truncatedSvdOfSum(terms, r, out, inF, r);
      const B = new Float32Array(out * r);
      const A = new Float32Array(r * inF);
      sigma.forEach((s, j) => {
        for (let o = 0; o < out; o++) B[o * r + j] = (U.get(o, j) * s) / scale;
        for (let i = 0; i < inF; i++) A[j * inF + i] = V.get(i, j);
      });
      f.A = A;
      f.B = B;
    }
  }
}

export const flexlora: StrategyFactory = (ctx) => new FlexLoRAStrategy(ctx);
