/**
 * feddpa (FedDPA, Yang et al., NeurIPS 2024): each targeted layer carries a shared LoRA (A, B)
 * and a personal one (PA, PB), Δy = (alpha/r)(B A + PB PA) x. Clients train both together each
 * round; only A and B are sent and averaged (weights = examples); PA, PB never leave the client.
 * The personal LoRA starts as PEFT's does (PA random from the seed, PB = 0). At inference both
 * adapters count fully (the paper's instance-wise weighting is not implemented: docs/method.md).
 */
import { Rng } from '../util/rng.js';
import type { AdapterState } from '../adapters/state.js';
import { SharedFactorStrategy } from './shared-factors.js';
import type { StrategyContext, StrategyFactory } from './strategy.js';

export class FedDPAStrategy extends SharedFactorStrategy {
  constructor(ctx: StrategyContext) {
    super('feddpa', ctx, { shared: ['A', 'B'], trainable: ['A', 'B', 'PA', 'PB'], layers: { dual: true } });
  }

  protected override initialState(): AdapterState {
    const s = super.initialState();
    const r = this.ctx.adapter.rank;
    for (const l of this.ctx.layers) {
      const f = s.get(l.name)!;
      const bound = 1 / Math.sqrt(l.inFeatures);
      f.PA = Rng.derive(this.ctx.seed, 'lora-init-PA', l.name).fillUniform(new Float32Array(r * l.inFeatures), -bound, bound);
      f.PB = new Float32Array(l.outFeatures * r);
    }
    return s;
  }
}

export const feddpa: StrategyFactory = (ctx) => new FedDPAStrategy(ctx);
