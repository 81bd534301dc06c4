/**
 * fedex (FedEx-LoRA, Singhal et al., ACL 2025): clients train and send A_k, B_k; the server
 * averages A and B (weights = examples) and adds the residual
 *   (alpha/r) · (Σ_k w_k B_k A_k − B̄ Ā)
 * to a frozen per-layer correction R of the base weight, so that W + R + (alpha/r) B̄ Ā is exactly
 * the weighted mean of the clients' adapted weights. R is dense (out × in): the server sends the
 * cumulative R with the factors once it is non-zero (from the second round on), as the authors'
 * code ships the updated frozen weights. R is checkpointed with the rest and exported beside the
 * adapter (adapters/peft-io.ts).
 */
import { scaling } from '../adapters/config.js';
import { applyPayload, cloneState, pick, type AdapterState, type Payload } from '../adapters/state.js';
import { exampleWeights, weightedAverage } from './aggregate.js';
import { SharedFactorStrategy } from './shared-factors.js';
import type { FitResult, StrategyContext, StrategyFactory } from './strategy.js';

export class FedExStrategy extends SharedFactorStrategy {
  constructor(ctx: StrategyContext) {
    super('fedex', ctx, { shared: ['A', 'B'], trainable: ['A', 'B'], layers: { residual: true } });
    for (const s of this.kept.values()) for (const f of s.values()) delete f.R;
  }

  // R is the server's, one copy: a client's kept state holds its factors only (a dense R per
  // client would cost clients × out × in per layer), and takes R from what it is sent, or zero
  // before the first residual.
  override clientStart(unit: string, download: Payload): AdapterState {
    const s = applyPayload(this.keptState(unit), download);
    for (const f of s.values()) f.R ??= new Float32Array((f.B.length / this.ctx.adapter.rank) * (f.A.length / this.ctx.adapter.rank));
    return s;
  }

  override clientUpload(unit: string, trained: AdapterState): Payload {
    const upload = super.clientUpload(unit, trained);
    const kept = cloneState(trained);
    for (const f of kept.values()) delete f.R;
    this.kept.set(unit, kept);
    return upload;
  }

  protected override initialState(): AdapterState {
    const s = super.initialState();
    for (const f of s.values()) f.R = new Float32Array((f.B.length / this.ctx.adapter.rank) * (f.A.length / this.ctx.adapter.rank));
    return s;
  }

  protected override download(_unit: string): Payload {
    const residual = [...this.global.values()].some((f) => f.R!.some((x) => x !== 0));
    return pick(this.global, residual ? ['A', 'B', 'R'] : ['A', 'B']);
  }

  override aggregateFit(_round: number, results: readonly FitResult[]): void {
    if (results.length === 0) return;
    const r = this.adapterConfig.rank;
    const scale = scaling(this.adapterConfig);
    const weights = exampleWeights(results);
    const next = weightedAverage(results, ['A', 'B'], this.global);
    for (const [layer, f] of next) {
      const out = f.B.length / r;
      const inF = f.A.length / r;
      // mean of the products minus the product of the means, in float64, then added to R
      const diff = new Float64Array(out * inF);
      const addProduct = (B: Float32Array, A: Float32Array, w: number) => {
        for (let o = 0; o < out; o++)
          for (let j = 0; j < r; j++) {
            const b = w * B[o * r + j];
            if (b === 0) continue;
            for (let i = 0; i < inF; i++) diff[o * inF + i] += b * A[j * inF + i];
          }
      };
      results.forEach((res, k) => {
        const u = res.upload.get(layer)!;
        addProduct(u.B!, u.A!, weights[k]);
      });
      addProduct(f.B, f.A, -1);
      const R = f.R!;
      for (let i = 0; i < R.length; i++) R[i] += scale * diff[i];
    }
    this.global = next;
  }
}

export const fedex: StrategyFactory = (ctx) => new FedExStrategy(ctx);
