/**
 * Adapter weights on the host, as the server and the methods see them: per adapted layer the
 * factors A [r, in], B [out, r] and, for CoLoRA, the personal core S ([r, r], or its diagonal [r]
 * for `core: diagonal`); SVFit and LoLDU add their trained diagonal D [r]; an adapter that
 * changes the frozen base (PiSSA) carries the correction RA [k, in], RB [out, k]:
 *   ΔW = (alpha/r) · (B · diag(D) · S · A − RB · RA)      (absent D, S = identity; absent RA, RB = 0)
 * plus any frozen dense correction a method adds to the model (FedEx's residual R [out, in]).
 * All row-major Float32Arrays. Aggregation, checkpointing and what crosses the network work on
 * these; the tf.Variables live in AdapterLayer.
 */
import { Rng } from '../util/rng.js';
import type { LinearInfo } from '../model/linear-delta.js';

/** Trainable factors: LoRA's A, B; CoLoRA's S; SVFit's / LoLDU's D; FedDPA's personal LoRA PA [r, in], PB [out, r]. */
export type FactorName = 'A' | 'B' | 'S' | 'D' | 'PA' | 'PB';
export const FACTORS: readonly FactorName[] = ['A', 'B', 'S', 'D', 'PA', 'PB'];

export interface LayerFactors {
  A: Float32Array;
  B: Float32Array;
  /** CoLoRA's personal core: [r, r], or [r] when diagonal. */
  S?: Float32Array;
  /** SVFit's singular values / LoLDU's pivots (over alpha/r), the only trained part of those kinds. */
  D?: Float32Array;
  /** A second, personal LoRA on the same layer (FedDPA): Δy += (alpha/r) x PAᵀ PBᵀ. */
  PA?: Float32Array;
  PB?: Float32Array;
  /** The frozen low-rank correction of the base: the layer computes (W − (alpha/r)·RB·RA) x + ... Never trained or averaged. */
  RA?: Float32Array;
  RB?: Float32Array;
  /**
   * A frozen correction of the layer's weight, ΔW in PEFT's [out, in] orientation, already
   * scaled (the layer computes W x + R x + (alpha/r) B A x). Never trained; a method sets it.
   */
  R?: Float32Array;
}

/** Every tensor a layer can carry: the trainable factors and the frozen corrections. */
export type TensorName = keyof LayerFactors;
export const TENSORS: readonly TensorName[] = ['A', 'B', 'S', 'D', 'PA', 'PB', 'RA', 'RB', 'R'];

/** Layer name (e.g. `h.0.attn.c_attn`) → factors. Insertion order = model order. */
export type AdapterState = Map<string, LayerFactors>;

export function identity(r: number): Float32Array {
  const s = new Float32Array(r * r);
  for (let i = 0; i < r; i++) s[i * r + i] = 1;
  return s;
}

/**
 * PEFT's default initialisation: A ~ kaiming_uniform(a=√5) = U(-1/√in, 1/√in), B = 0; CoLoRA's S = I.
 * A depends only on (seed, layer name), so every client and every method starts from the same A.
 */
export function initialState(layers: readonly LinearInfo[], rank: number, personal: boolean, seed: number): AdapterState {
  const state: AdapterState = new Map();
  for (const l of layers) {
    const bound = 1 / Math.sqrt(l.inFeatures);
    const A = Rng.derive(seed, 'lora-init-A', l.name).fillUniform(new Float32Array(rank * l.inFeatures), -bound, bound);
    const f: LayerFactors = { A, B: new Float32Array(l.outFeatures * rank) };
    if (personal) f.S = identity(rank);
    state.set(l.name, f);
  }
  return state;
}

export function cloneLayer(f: LayerFactors): LayerFactors {
  const c: LayerFactors = { A: f.A.slice(), B: f.B.slice() };
  for (const k of TENSORS) {
    const v = f[k];
    if (v && k !== 'A' && k !== 'B') c[k] = v.slice();
  }
  return c;
}

export function cloneState(state: AdapterState): AdapterState {
  const out: AdapterState = new Map();
  for (const [name, f] of state) out.set(name, cloneLayer(f));
  return out;
}

/** A copy of `base` with the named factors taken from `from` (e.g. the global A, B into a client's state with its personal S). */
export function withFactors(base: AdapterState, from: AdapterState | Payload, factors: readonly TensorName[]): AdapterState {
  const out = cloneState(base);
  for (const [name, f] of out) {
    const src = from.get(name);
    if (!src) throw new Error(`adapter state has no layer ${name}`);
    for (const k of factors) {
      const v = src[k];
      if (v) f[k] = v.slice();
    }
  }
  return out;
}

/** What crosses the network: per layer, some of its tensors (see methods/strategy.ts). */
export type Payload = Map<string, Partial<LayerFactors>>;

/** The named tensors of every layer of `state`, copied (what a client uploads or the server sends). */
export function pick(state: AdapterState, names: readonly TensorName[]): Payload {
  const out: Payload = new Map();
  for (const [layer, f] of state) {
    const p: Partial<LayerFactors> = {};
    for (const k of names) if (f[k]) p[k] = f[k]!.slice();
    out.set(layer, p);
  }
  return out;
}

/** A copy of `base` with every tensor `p` carries put in (a client taking in what the server sent). */
export function applyPayload(base: AdapterState, p: Payload): AdapterState {
  const out = cloneState(base);
  for (const [layer, tensors] of p) {
    const f = out.get(layer);
    if (!f) throw new Error(`adapter state has no layer ${layer}`);
    for (const [k, v] of Object.entries(tensors) as [TensorName, Float32Array][]) f[k] = v.slice();
  }
  return out;
}

/** Bytes on the wire: 4 per float32 value. */
export function payloadBytes(p: Payload): number {
  let n = 0;
  for (const f of p.values()) for (const v of Object.values(f)) n += (v as Float32Array).byteLength;
  return n;
}

/** B·S [out, r], the B of the plain LoRA adapter equivalent to a CoLoRA layer (S full [r, r] or diagonal [r]). */
export function mergePersonal(B: Float32Array, S: Float32Array, rank: number): Float32Array {
  const out = B.length / rank;
  const BS = new Float32Array(B.length);
  if (S.length === rank) {
    for (let o = 0; o < out; o++) for (let j = 0; j < rank; j++) BS[o * rank + j] = B[o * rank + j] * S[j];
    return BS;
  }
  for (let o = 0; o < out; o++)
    for (let j = 0; j < rank; j++) {
      let acc = 0;
      for (let k = 0; k < rank; k++) acc += B[o * rank + k] * S[k * rank + j];
      BS[o * rank + j] = acc;
    }
  return BS;
}

/** The core as an r×r matrix (a diagonal core [r] expanded). */
export function coreMatrix(S: Float32Array, rank: number): Float32Array {
  if (S.length === rank * rank) return S;
  const M = new Float32Array(rank * rank);
  for (let i = 0; i < rank; i++) M[i * rank + i] = S[i];
  return M;
}

/**
 * The layer's update ΔW / (alpha/r) as one low-rank product P Q with P [out, m], Q [m, in]:
 * P = [B·diag(D)·S, PB, −RB], Q = [A; PA; RA] (m = r, plus r for FedDPA's personal LoRA, plus k
 * with a correction). What PEFT users get (PEFT's own PiSSA-to-LoRA conversion is this
 * concatenation) and what the core diagnostics measure.
 */
export function updateFactors(f: LayerFactors, rank: number): { P: Float32Array; Q: Float32Array; m: number } {
  let P = f.B;
  if (f.D) P = mergePersonal(P, f.D, rank);
  if (f.S) P = mergePersonal(P, f.S, rank);
  const inF = f.A.length / rank;
  const out = f.B.length / rank;
  // Column blocks of P and the matching row blocks of Q: the trained product, FedDPA's personal LoRA, the correction.
  const blocks: { P: Float32Array; Q: Float32Array; k: number; sign: number }[] = [{ P, Q: f.A, k: rank, sign: 1 }];
  if (f.PA && f.PB) blocks.push({ P: f.PB, Q: f.PA, k: rank, sign: 1 });
  if (f.RA && f.RB) blocks.push({ P: f.RB, Q: f.RA, k: f.RA.length / inF, sign: -1 });
  if (blocks.length === 1) return { P: P === f.B ? f.B.slice() : P, Q: f.A.slice(), m: rank };
  const m = blocks.reduce((s, b) => s + b.k, 0);
  const PP = new Float32Array(out * m);
  const QQ = new Float32Array(m * inF);
  let at = 0;
  for (const b of blocks) {
    for (let o = 0; o < out; o++) for (let j = 0; j < b.k; j++) PP[o * m + at + j] = b.sign * b.P[o * b.k + j];
    QQ.set(b.Q, at * inF);
    at += b.k;
  }
  return { P: PP, Q: QQ, m };
}

/** A FedDPA layer's shared and personal LoRAs as one of rank 2r: A = [A; PA] [2r, in], B = [B, PB] [out, 2r]. */
export function stackDual(f: LayerFactors, rank: number): { A: Float32Array; B: Float32Array } {
  if (!f.PA || !f.PB) throw new Error('stackDual: the layer has no personal LoRA');
  const out = f.B.length / rank;
  const A = new Float32Array(2 * f.A.length);
  A.set(f.A, 0);
  A.set(f.PA, f.A.length);
  const B = new Float32Array(2 * f.B.length);
  for (let o = 0; o < out; o++) {
    B.set(f.B.subarray(o * rank, (o + 1) * rank), o * 2 * rank);
    B.set(f.PB.subarray(o * rank, (o + 1) * rank), o * 2 * rank + rank);
  }
  return { A, B };
}
