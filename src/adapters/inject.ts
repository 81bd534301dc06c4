/**
 * Injection (PEFT's inject_adapter): put an AdapterLayer on every targeted linear layer of a
 * model, and take them off again. The model keeps its frozen weights; only the hooks change.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LinearDelta, LinearInfo } from '../model/linear-delta.js';
import { UsageError } from '../util/errors.js';
import { matchesTarget, scaling, type AdapterConfig } from './config.js';
import { AdapterLayer } from './layer.js';
import type { AdapterState, FactorName, LayerFactors } from './state.js';

/** What injection needs from a model. */
export interface AdaptableModel {
  linears(): LinearInfo[];
  setDelta(name: string, delta: LinearDelta | undefined): void;
}

export function targetedLinears(model: AdaptableModel, targets: readonly string[]): LinearInfo[] {
  const all = model.linears();
  const hit = all.filter((l) => matchesTarget(l.name, targets));
  if (hit.length === 0)
    throw new UsageError(
      `adapter.targets ${JSON.stringify(targets)} match no linear layer of the model (it has e.g. ${all.slice(0, 4).map((l) => l.name).join(', ')})`,
    );
  return hit;
}

/** A saved layer must exist and its lora_A and lora_B match the model layer's widths (a file from elsewhere may not). */
function checkFits(info: LinearInfo, cfg: AdapterConfig, f: LayerFactors | undefined, where: string): asserts f is LayerFactors {
  const r = cfg.rank;
  if (!f) throw new UsageError(`${where}: no weights for layer ${info.name}, which its target_modules ${JSON.stringify(cfg.targets)} select`);
  const bad = (what: string, got: number, want: number) =>
    new UsageError(`${where}: layer ${info.name}: ${what} holds ${got} values, but this model's layer (${info.inFeatures} in, ${info.outFeatures} out) at rank ${r} needs ${want}`);
  if (f.A.length !== r * info.inFeatures) throw bad('lora_A', f.A.length, r * info.inFeatures);
  if (f.B.length !== info.outFeatures * r) throw bad('lora_B', f.B.length, info.outFeatures * r);
}

export class InjectedAdapter {
  readonly layers = new Map<string, AdapterLayer>();

  constructor(
    private readonly model: AdaptableModel,
    readonly config: AdapterConfig,
    state: AdapterState,
    /** Names the adapter's source (a directory) in errors about a saved state that does not fit. */
    where = 'adapter',
  ) {
    for (const info of targetedLinears(model, config.targets)) {
      const f = state.get(info.name);
      checkFits(info, config, f, where);
      const layer = new AdapterLayer(info, config.rank, scaling(config), f);
      this.layers.set(info.name, layer);
      model.setDelta(info.name, layer);
    }
  }

  /** Put a saved state on the layers; `where` names its source in errors (see the constructor). */
  load(state: AdapterState, where = 'adapter'): void {
    for (const [name, layer] of this.layers) {
      const f = state.get(name);
      checkFits(layer.info, this.config, f, where);
      layer.load(f);
    }
  }

  async read(): Promise<AdapterState> {
    const s: AdapterState = new Map();
    for (const [name, layer] of this.layers) s.set(name, await layer.read());
    return s;
  }

  /** The variables of the given factors, in a stable order (layer order, then the factors' order). */
  variables(factors: readonly FactorName[]): tf.Variable[] {
    const vars: tf.Variable[] = [];
    for (const layer of this.layers.values())
      for (const f of factors) {
        const v = layer.variable(f);
        if (v) vars.push(v);
      }
    return vars;
  }

  /** The factor of each variable `variables(factors)` returns, in the same order. */
  variableFactors(factors: readonly FactorName[]): FactorName[] {
    const out: FactorName[] = [];
    for (const layer of this.layers.values()) for (const f of factors) if (layer.variable(f)) out.push(f);
    return out;
  }

  remove(): void {
    for (const [name, layer] of this.layers) {
      this.model.setDelta(name, undefined);
      layer.dispose();
    }
    this.layers.clear();
  }
}
