/**
 * colora: A, B trained by every client and averaged by the server; each client's core S_i
 * (ΔW_i = (alpha/r) B S_i A) is trained too and never sent. The readings of the paper we cannot
 * read are options (config `colora:`, docs/method.md "CoLoRA's options"):
 *   core                full r×r S_i, or diagonal (r per-client scalars)
 *   core_init           identity | gaussian (σ = core_sigma) | zero
 *   shared_init         peft (A random, B = 0) | svd (PiSSA's start, residual kept as a frozen correction)
 *   core_lr_multiplier  S_i's learning rate = lr × this
 *   schedule            joint (all factors every step) | alternating (core_steps on S_i alone, then A, B)
 *   normalize           none | qr (the server orthonormalises B and A; every client absorbs R_B, R_A into S_i)
 * The defaults (full, identity, peft, 1, joint, none) are the original reading, bit for bit.
 */
import type { StartOptions } from '../adapters/init.js';
import { initialCore } from '../adapters/init.js';
import type { AdapterState, FactorName } from '../adapters/state.js';
import { CoLoRASchema, type CoLoRAConfig } from '../config/schema.js';
import { exampleWeights } from './aggregate.js';
import { coreDiagnostics, gaugeFix } from './colora-core.js';
import { SharedFactorStrategy } from './shared-factors.js';
import type { FitInstruction, FitResult, StrategyContext, StrategyFactory } from './strategy.js';

class CoLoRAStrategy extends SharedFactorStrategy {
  constructor(ctx: StrategyContext) {
    const o = ctx.colora ?? CoLoRASchema.parse({});
    super('colora', ctx, { shared: ['A', 'B'], trainable: ['A', 'B', 'S'], personal: true, layers: o.core === 'diagonal' ? { core: 'diagonal' } : {} });
  }

  private get options(): CoLoRAConfig {
    return this.ctx.colora ?? CoLoRASchema.parse({});
  }

  protected override start(): StartOptions {
    const o = this.options;
    return { coreInit: o.core_init, coreSigma: o.core_sigma, sharedInit: o.shared_init };
  }

  override configureFit(round: number): FitInstruction[] {
    const o = this.options;
    return super.configureFit(round).map((ins) => {
      const out: FitInstruction = { ...ins };
      if (o.core_lr_multiplier !== 1) out.lrMultipliers = { S: o.core_lr_multiplier };
      if (o.schedule === 'alternating') {
        const shared = ins.trainable.filter((f) => f !== 'S');
        const coreSteps = Math.min(o.core_steps, ins.steps);
        out.phases = [{ trainable: ['S'] as FactorName[], steps: coreSteps }];
        if (ins.steps > coreSteps) out.phases.push({ trainable: shared, steps: ins.steps - coreSteps });
      }
      return out;
    });
  }

  override aggregateFit(round: number, results: readonly FitResult[]): void {
    super.aggregateFit(round, results);
    if (this.options.normalize === 'qr' && results.length > 0) this.normalize();
  }

  /**
   * The gauge fix: B = Q_B R_B, A = R_A Q_Aᵀ on every layer; the server keeps Q_B, Q_Aᵀ and every
   * client (sampled this round or not) absorbs S_i ← R_B S_i R_A (2r² values per layer sent to
   * each client; not in bytes_down, which counts the round's own payloads).
   */
  private normalize(): void {
    const r = this.adapterConfig.rank;
    for (const [name, g] of this.global) {
      const fix = gaugeFix(g.B, g.A, r);
      if (!fix) continue;
      g.B = fix.B;
      g.A = fix.A;
      for (const state of this.kept.values()) {
        const f = state.get(name)!;
        f.S = fix.absorb(f.S!);
      }
    }
  }

  /** Per unit: how far S_i moved, its condition number, and the personal share of its update. */
  diagnostics(_round: number): Map<string, Record<string, number>> {
    const r = this.adapterConfig.rank;
    const diagonal = this.adapterConfig.core === 'diagonal';
    const start = this.start();
    const names = [...this.global.keys()];
    const s0 = new Map(names.map((n) => [n, initialCore(r, diagonal, start, this.ctx.seed, n)]));
    const units = this.units.map((u) => ({ unit: u, state: this.adapterFor(u.members[0]) }));
    const weights = exampleWeights(this.units);
    const mean = new Map<string, Float32Array>();
    for (const n of names) {
      const acc = new Float32Array(s0.get(n)!.length);
      units.forEach(({ state }, i) => state.get(n)!.S!.forEach((v, j) => (acc[j] += weights[i] * v)));
      mean.set(n, acc);
    }
    const out = new Map<string, Record<string, number>>();
    for (const { unit, state } of units) out.set(unit.name, { ...coreDiagnostics(state as AdapterState, s0, mean, r) });
    return out;
  }
}

export const colora: StrategyFactory = (ctx) => new CoLoRAStrategy(ctx);
