/**
 * The starting adapter state of a run, for every adapter kind and CoLoRA start:
 *   shared factors  `peft`: PEFT's LoRA init (A kaiming-uniform, B = 0; state.ts initialState);
 *                   `svd`:  PiSSA's (A = √(Σ_r/s) V_rᵀ, B = U_r √(Σ_r/s), s = alpha/r, so s·B A = U_r Σ_r V_rᵀ);
 *                   kind svfit: A = V_rᵀ, B = U_r frozen, D = Σ_r / s;
 *                   kind loldu: A = U_r (unit upper rows), B = P L_r frozen, D = pivots / s;
 *   core S          `identity`, `gaussian` (N(0, σ²), LoRA-XS's start) or `zero`; r×r or its diagonal.
 * Whenever the start is not a zero update, the layer carries the frozen correction
 * RB·RA = B·diag(D)·S·A at the start, so the adapted model computes exactly the base model's
 * function at step 0 (PiSSA's residual W − U_r Σ_r V_rᵀ, held as a correction, not written into W).
 * Everything random depends only on (seed, layer name), so every client and method starts alike.
 */
import type { FrozenWeight, LinearInfo } from '../model/linear-delta.js';
import { UsageError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { scaling, type AdapterConfig } from './config.js';
import { targetedLinears, type AdaptableModel } from './inject.js';
import { cloneLayer, identity, initialState, mergePersonal, type AdapterState, type LayerFactors } from './state.js';
import { adapterKind, pissaStart } from './kinds/registry.js';

export type CoreInit = 'identity' | 'gaussian' | 'zero';
export type SharedInit = 'peft' | 'svd';

export interface StartOptions {
  coreInit: CoreInit;
  /** σ of the gaussian core (LoRA-XS: 1e-5). */
  coreSigma: number;
  /** Only for kind lora: `svd` starts A, B as PiSSA does. */
  sharedInit: SharedInit;
}

export const DEFAULT_START: StartOptions = { coreInit: 'identity', coreSigma: 1e-5, sharedInit: 'peft' };

/** A model whose frozen weights an adapter can read (decomposition kinds and the `svd` start need it). */
export type DecomposableModel = AdaptableModel & { frozenWeight?(name: string): Promise<FrozenWeight> };

/** Frozen weights already read, per model (they never change), so every method of a run shares them and their decompositions. */
const weightCache = new WeakMap<object, Map<string, FrozenWeight>>();

/** The frozen weights of the targeted layers, read once per model (only needed when `startsFromWeight`). */
export async function readFrozenWeights(model: DecomposableModel, targets: readonly string[], what: string): Promise<Map<string, FrozenWeight>> {
  if (!model.frozenWeight) throw new UsageError(`${what} needs the model's frozen weights, which this model does not expose`);
  let cached = weightCache.get(model);
  if (!cached) weightCache.set(model, (cached = new Map()));
  const out = new Map<string, FrozenWeight>();
  for (const l of targetedLinears(model, targets)) {
    let w = cached.get(l.name);
    if (!w) cached.set(l.name, (w = await model.frozenWeight(l.name)));
    out.set(l.name, w);
  }
  return out;
}

/** Decompositions already computed, per frozen weight and (kind, rank, alpha, seed): the SVD of a large layer takes seconds. */
const decompositionCache = new WeakMap<FrozenWeight, Map<string, LayerFactors>>();

/** True when the adapter's A and B start from a decomposition of W rather than PEFT's random A, B = 0. */
export function startsFromWeight(cfg: AdapterConfig, start: StartOptions): boolean {
  return adapterKind(cfg.kind).decompose !== undefined || start.sharedInit === 'svd';
}

/** The core S_i(0) of a layer: the same for every client (it depends on seed and layer only). */
export function initialCore(rank: number, diagonal: boolean, start: StartOptions, seed: number, layer: string): Float32Array {
  return core(rank, diagonal, start, seed, layer);
}

function core(rank: number, diagonal: boolean, start: StartOptions, seed: number, layer: string): Float32Array {
  const S = diagonal ? new Float32Array(rank) : start.coreInit === 'identity' ? identity(rank) : new Float32Array(rank * rank);
  if (start.coreInit === 'identity' && diagonal) S.fill(1);
  if (start.coreInit === 'gaussian') Rng.derive(seed, 'core-init', layer).fillNormal(S, start.coreSigma);
  return S;
}

function decomposed(cfg: AdapterConfig, w: FrozenWeight, seed: number, layer: string): LayerFactors {
  const key = `${cfg.kind ?? 'lora'}/${cfg.rank}/${cfg.alpha}/${seed}/${layer}`;
  let cached = decompositionCache.get(w);
  if (!cached) decompositionCache.set(w, (cached = new Map()));
  let f = cached.get(key);
  if (!f) cached.set(key, (f = decompose(cfg, w, seed, layer)));
  return cloneLayer(f);
}

/** The kind's start from W; kind lora with CoLoRA's `svd` start takes PiSSA's. */
function decompose(cfg: AdapterConfig, w: FrozenWeight, seed: number, layer: string): LayerFactors {
  const start = adapterKind(cfg.kind).decompose ?? pissaStart.decompose;
  return start(w, cfg.rank, scaling(cfg), Rng.derive(seed, 'svd', layer).nextU32());
}

function isZero(a: Float32Array): boolean {
  return a.every((v) => v === 0);
}

/**
 * The initial state of an adapter on `layers`. Kind lora with the `peft` start and an identity
 * core is exactly initialState (bit for bit); the other starts need the layers' frozen weights.
 */
export function initialAdapterState(
  layers: readonly LinearInfo[],
  cfg: AdapterConfig,
  seed: number,
  start: StartOptions = DEFAULT_START,
  weights?: ReadonlyMap<string, FrozenWeight>,
): AdapterState {
  const r = cfg.rank;
  const diagonal = cfg.core === 'diagonal';
  if (!startsFromWeight(cfg, start)) {
    const state = initialState(layers, r, cfg.personal, seed);
    if (cfg.personal && (diagonal || start.coreInit !== 'identity'))
      for (const [name, f] of state) f.S = core(r, diagonal, start, seed, name);
    return state;
  }
  const state: AdapterState = new Map();
  for (const l of layers) {
    const k = Math.min(l.inFeatures, l.outFeatures);
    if (r > k) throw new UsageError(`adapter.rank: ${r} exceeds min(in, out) = ${k} of layer ${l.name}, so its weight has no rank-${r} decomposition`);
    const w = weights?.get(l.name);
    if (!w) throw new Error(`initialAdapterState: no frozen weight for layer ${l.name}`);
    const f = decomposed(cfg, w, seed, l.name);
    if (cfg.personal) f.S = core(r, diagonal, start, seed, l.name);
    // The correction cancels the start's product, so the model starts unchanged.
    let P = f.B;
    if (f.D) P = mergePersonal(P, f.D, r);
    if (f.S) P = mergePersonal(P, f.S, r);
    if (!isZero(P)) {
      f.RA = f.A.slice();
      f.RB = P === f.B ? f.B.slice() : P;
    }
    state.set(l.name, f);
  }
  return state;
}
