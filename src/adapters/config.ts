/**
 * Adapter configuration, PEFT-style: what `adapter_config.json` says (rank, alpha, target modules)
 * plus the adapter kind (how the factors start and which of them train) and whether layers carry
 * CoLoRA's personal core S (full r×r or diagonal) and a frozen weight correction R.
 */
import type { AdapterSpec } from '../config/schema.js';
import type { FactorName } from './state.js';

/**
 *   lora    PEFT's LoRA: A random, B = 0, both trained
 *   pissa   PiSSA: A, B from the top-r SVD of W (B A = U_r Σ_r V_rᵀ / scale), both trained; the base is the residual
 *   svfit   SVFit: A = V_rᵀ, B = U_r frozen; only the r singular values (D) train; the base is the residual
 *   loldu   LoLDU: A = U_r, B = P L_r frozen (LU with partial pivoting); only the diagonal D trains; the base is the residual
 */
export const ADAPTER_KINDS = ['lora', 'pissa', 'svfit', 'loldu'] as const;
export type AdapterKind = (typeof ADAPTER_KINDS)[number];
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

/** SVFit and LoLDU keep A and B frozen at the decomposition; their trainable part is D. */
export function freezesAB(kind: AdapterKind | undefined): boolean {
  return kind === 'svfit' || kind === 'loldu';
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

/** PEFT's rule: a module is targeted when its name equals a target or ends with `.` + target. */
export function matchesTarget(moduleName: string, targets: readonly string[]): boolean {
  return targets.some((t) => moduleName === t || moduleName.endsWith('.' + t));
}
