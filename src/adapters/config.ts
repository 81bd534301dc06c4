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

/** PEFT's rule: a module is targeted when its name equals a target or ends with `.` + target. */
export function matchesTarget(moduleName: string, targets: readonly string[]): boolean {
  return targets.some((t) => moduleName === t || moduleName.endsWith('.' + t));
}
