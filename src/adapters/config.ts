/**
 * Adapter configuration, PEFT-style: what `adapter_config.json` says (rank, alpha, target modules)
 * plus the adapter kind (how the factors start and which of them train) and whether layers carry
 * CoLoRA's personal core S (full r×r or diagonal) and a frozen weight correction R.
 */
import type { AdapterSpec } from '../config/schema.js';
import type { FactorName } from './state.js';
import { ADAPTER_KINDS, adapterKind, type AdapterKind } from './kinds/registry.js';

export { ADAPTER_KINDS, type AdapterKind };
export type CoreShape = 'full' | 'diagonal';

export interface AdapterConfig {
  rank: number;
  alpha: number;
  /** PEFT target-module suffixes, e.g. `attn.c_attn`. */
  targets: string[];
  dropout: number;
  /** CoLoRA layers compute B S A; plain LoRA layers B A. */
  personal: boolean;
  /** Layers carry a frozen weight correction R (FedEx-LoRA's residual): W + R + (alpha/r) B A. */
  residual?: boolean;
  /** Layers carry a second, personal LoRA PA, PB beside the shared one (FedDPA). */
  dual?: boolean;
  /** Default `lora`. */
  kind?: AdapterKind;
  /** Shape of the personal core S (default `full`, r×r). */
  core?: CoreShape;
}

/** adapter.targets of a loaded config (loadExperimentConfig fills absent targets with the model family's defaults). */
export function resolvedTargets(spec: Pick<AdapterSpec, 'targets'>): string[] {
  if (!spec.targets) throw new Error('adapter.targets not resolved against the model family');
  return [...spec.targets];
}

export function adapterConfigFrom(spec: AdapterSpec, personal: boolean, extra: Pick<AdapterConfig, 'residual' | 'dual' | 'core'> = {}): AdapterConfig {
  const { core, ...rest } = extra;
  const cfg: AdapterConfig = { rank: spec.rank, alpha: spec.alpha, targets: resolvedTargets(spec), dropout: spec.dropout, personal, ...rest };
  if (spec.kind !== 'lora') cfg.kind = spec.kind;
  if (personal && core && core !== 'full') cfg.core = core;
  return cfg;
}

/** The kind keeps A and B frozen at the decomposition (SVFit, LoLDU); its trainable part is D. */
export function freezesAB(kind: AdapterKind | undefined): boolean {
  return adapterKind(kind).freezesAB;
}

/**
 * A method's factor list (shared or trained) in the terms of an adapter kind: for SVFit and LoLDU
 * "the shared adapter" A, B is their diagonal D, so a method that trains or shares A and B trains
 * or shares D. A method that treats A and B differently (FFA, FedSA) has no meaning there;
 * `splitsAB` finds it.
 */
export function kindFactors(kind: AdapterKind | undefined, factors: readonly FactorName[]): FactorName[] {
  if (!freezesAB(kind)) return [...factors];
  const out: FactorName[] = [];
  for (const f of factors) {
    const g = f === 'A' || f === 'B' ? 'D' : f;
    if (!out.includes(g)) out.push(g);
  }
  return out;
}

/** True when the list names exactly one of A and B (a method that cannot run on a kind with frozen A, B). */
export function splitsAB(factors: readonly FactorName[]): boolean {
  return factors.includes('A') !== factors.includes('B');
}

/** PEFT's default scaling: alpha / r. */
export function scaling(cfg: Pick<AdapterConfig, 'rank' | 'alpha'>): number {
  return cfg.alpha / cfg.rank;
}

/**
 * PEFT's rule for a list of target modules: a module is targeted when its name equals a target or
 * ends with `.` + target; PEFT's `all-linear` targets every adaptable linear layer. (PEFT reads a
 * single string as a regular expression; colora does not, so such a target matches nothing and
 * is refused by name.)
 */
export function matchesTarget(moduleName: string, targets: readonly string[]): boolean {
  return targets.some((t) => t === 'all-linear' || moduleName === t || moduleName.endsWith('.' + t));
}

/** The targets that select none of `layers` (PEFT: "Target modules ... not found in the base model"). */
export function unmatchedTargets(layers: readonly { name: string }[], targets: readonly string[]): string[] {
  return targets.filter((t) => !layers.some((l) => matchesTarget(l.name, [t])));
}

/** The target names a user can write for `layers`: each layer's name without its block prefix (`h.0.`), in model order. */
export function targetNames(layers: readonly { name: string }[]): string[] {
  return [...new Set(layers.map((l) => l.name.replace(/^(?:[A-Za-z_]+\.)*\d+\./, '')))];
}

/** The targeted layer whose width min(in, out) is smallest, when `rank` exceeds it (a rank-r adapter needs r ≤ that width). */
export function narrowestBelowRank<L extends { name: string; inFeatures: number; outFeatures: number }>(layers: readonly L[], rank: number): L | undefined {
  let worst: L | undefined;
  for (const l of layers) if (Math.min(l.inFeatures, l.outFeatures) < rank && (!worst || Math.min(l.inFeatures, l.outFeatures) < Math.min(worst.inFeatures, worst.outFeatures))) worst = l;
  return worst;
}
