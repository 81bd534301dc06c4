/**
 * Adapter configuration, PEFT-style: what `adapter_config.json` says (rank, alpha, target modules)
 * plus whether layers carry CoLoRA's personal r×r matrix S.
 */
import type { AdapterSpec } from '../config/schema.js';

export interface AdapterConfig {
  rank: number;
  alpha: number;
  /** PEFT target-module suffixes, e.g. `attn.c_attn`. */
  targets: string[];
  dropout: number;
  /** CoLoRA layers compute B S A; plain LoRA layers B A. */
  personal: boolean;
}

export function adapterConfigFrom(spec: AdapterSpec, personal: boolean): AdapterConfig {
  // loadExperimentConfig fills absent targets with the model family's defaults.
  if (!spec.targets) throw new Error('adapter.targets not resolved against the model family');
  return { rank: spec.rank, alpha: spec.alpha, targets: [...spec.targets], dropout: spec.dropout, personal };
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
