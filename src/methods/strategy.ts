/**
 * One interface for every compared method, the way Flower's strategies work: the server keeps
 * the global (shared) factors, `configureFit` says what each sampled client starts a round from
 * and which factors it trains, `aggregateFit` folds the clients' results back in, and
 * `adapterFor` gives the adapter a client is evaluated with.
 *
 * Every method here is the same machine with different settings (see methods/registry.ts):
 * which factors are shared (averaged by the server), which are trained, whether layers carry a
 * personal S, and whether data are pooled into one training unit.
 */
import type { MethodName } from '../config/schema.js';
import { cloneState, withFactors, type AdapterState, type FactorName } from '../adapters/state.js';

export interface TrainingUnit {
  /** A client's name, or `pooled` for centralized training. */
  name: string;
  /** The clients whose data this unit trains on. */
  members: string[];
  /** Training examples (the FedAvg weight). */
  numExamples: number;
}

export interface FitInstruction {
  unit: string;
  state: AdapterState;
  trainable: readonly FactorName[];
}

export interface FitResult {
  unit: string;
  numExamples: number;
  state: AdapterState;
}

export interface Strategy {
  readonly name: MethodName;
  /** Layers carry CoLoRA's personal S. */
  readonly personal: boolean;
  readonly units: readonly TrainingUnit[];
  configureFit(round: number, sampled: readonly string[]): FitInstruction[];
  aggregateFit(round: number, results: readonly FitResult[]): void;
  /** The adapter client `client` is evaluated with. */
  adapterFor(client: string): AdapterState;
  /** Everything needed to resume after this round (global and per-unit states). */
  snapshot(): { global: AdapterState; units: Map<string, AdapterState> };
  restore(s: { global: AdapterState; units: Map<string, AdapterState> }): void;
}

export interface FactorStrategyOptions {
  /** Factors the server averages (weighted by training-set size). */
  shared: readonly FactorName[];
  /** Factors clients train. */
  trainable: readonly FactorName[];
  personal: boolean;
}

/** Weighted average of the named factors over results (FedAvg's rule, weights = examples). */
export function weightedAverage(results: readonly FitResult[], factors: readonly FactorName[], into: AdapterState): AdapterState {
  const out = cloneState(into);
  const total = results.reduce((s, r) => s + r.numExamples, 0);
  if (total <= 0) throw new Error('weightedAverage: no examples');
  for (const [name, f] of out)
    for (const k of factors) {
      const acc = f[k];
      if (!acc) continue;
      acc.fill(0);
      for (const r of results) {
        const src = r.state.get(name)?.[k];
        if (!src) throw new Error(`result of ${r.unit} lacks ${name}.${k}`);
        const w = r.numExamples / total;
        for (let i = 0; i < acc.length; i++) acc[i] += w * src[i];
      }
    }
  return out;
}

export class FactorStrategy implements Strategy {
  readonly personal: boolean;
  private global: AdapterState;
  private readonly unitStates = new Map<string, AdapterState>();
  private readonly memberOf = new Map<string, string>();

  constructor(
    readonly name: MethodName,
    readonly units: readonly TrainingUnit[],
    init: AdapterState,
    private readonly o: FactorStrategyOptions,
  ) {
    this.personal = o.personal;
    this.global = cloneState(init);
    for (const u of units) {
      this.unitStates.set(u.name, cloneState(init));
      for (const m of u.members) this.memberOf.set(m, u.name);
    }
  }

  private unitState(unit: string): AdapterState {
    const s = this.unitStates.get(unit);
    if (!s) throw new Error(`${this.name}: unknown training unit ${unit}`);
    return s;
  }

  configureFit(_round: number, sampled: readonly string[]): FitInstruction[] {
    return sampled.map((unit) => ({
      unit,
      state: withFactors(this.unitState(unit), this.global, this.o.shared),
      trainable: this.o.trainable,
    }));
  }

  aggregateFit(_round: number, results: readonly FitResult[]): void {
    for (const r of results) this.unitStates.set(r.unit, cloneState(r.state));
    if (this.o.shared.length > 0 && results.length > 0) this.global = weightedAverage(results, this.o.shared, this.global);
  }

  adapterFor(client: string): AdapterState {
    const unit = this.memberOf.get(client);
    if (!unit) throw new Error(`${this.name}: unknown client ${client}`);
    return withFactors(this.unitState(unit), this.global, this.o.shared);
  }

  snapshot() {
    const units = new Map<string, AdapterState>();
    for (const [k, v] of this.unitStates) units.set(k, cloneState(v));
    return { global: cloneState(this.global), units };
  }

  restore(s: { global: AdapterState; units: Map<string, AdapterState> }): void {
    this.global = cloneState(s.global);
    for (const [k, v] of s.units) this.unitStates.set(k, cloneState(v));
  }
}
