/**
 * The SIMD module's instance and memory. Kernels stage their operands in the module's memory
 * (from byte 0; nothing persists between calls), call a loop, and copy results out. Growing the
 * memory detaches earlier views, so callers take `heap` after `reserve`.
 *
 * `getSimd()` is undefined where WebAssembly SIMD is unavailable (or COLORA_NO_SIMD=1 is set, to
 * compare); kernels then use their JavaScript loops.
 */
import { simdModuleBytes } from './kernels.js';

interface Exports {
  memory: WebAssembly.Memory;
  gelu(x: number, y: number, s: number, n: number): void;
  geluGrad(dy: number, x: number, s: number, dx: number, n: number): void;
  swiglu(g: number, u: number, y: number, n: number): void;
  rmsNorm(x: number, y: number, rows: number, D: number, w: number, eps: number, stats: number): void;
  rmsNormGrad(dy: number, x: number, dx: number, rows: number, D: number, w: number, stats: number): void;
  swigluGrad(dy: number, g: number, u: number, dg: number, du: number, n: number): void;
  softmaxGradRows(dp: number, p: number, rows: number, S: number, scale: number): void;
  layerNorm(x: number, y: number, rows: number, D: number, gamma: number, beta: number, eps: number, stats: number): void;
  attentionScores(q: number, k: number, sc: number, BH: number, T: number, S: number, Sp: number, hd: number, kvs: number, scale: number): void;
  attentionValues(sc: number, v: number, o: number, BH: number, T: number, S: number, Sp: number, hd: number, kvs: number): void;
  layerNormGrad(dy: number, x: number, dx: number, rows: number, D: number, gamma: number, stats: number): void;
  softmaxRows(p: number, rows: number, ld: number, lim0: number): void;
  maxSumExp(z: number, rows: number, ld: number, stats: number): void;
  scaledSoftmax(z: number, rows: number, ld: number, lse: number, coef: number): void;
  expInPlace(p: number, n: number): void;
  adamw(p: number, m: number, v: number, g: number, n: number, b1: number, c1: number, b2: number, c2: number, bc1: number, bc2: number, eps: number, lr: number, decay: number, scale: number): void;
}

export class SimdRuntime {
  private f32: Float32Array;

  constructor(readonly fn: Exports) {
    this.f32 = new Float32Array(fn.memory.buffer);
  }

  /** Make at least `floats` float32 slots addressable; returns the (possibly new) heap view. */
  reserve(floats: number): Float32Array {
    const bytes = floats * 4;
    const have = this.fn.memory.buffer.byteLength;
    if (bytes > have) this.fn.memory.grow(Math.ceil((bytes - have) / 65536));
    if (this.f32.buffer !== this.fn.memory.buffer) this.f32 = new Float32Array(this.fn.memory.buffer);
    return this.f32;
  }

  get heap(): Float32Array {
    if (this.f32.buffer !== this.fn.memory.buffer) this.f32 = new Float32Array(this.fn.memory.buffer);
    return this.f32;
  }
}

/** Floats per staged slot in `stagedChunks` (16 KiB: a few slots stay in L1/L2). */
export const CHUNK = 4096;

/**
 * Run an element-wise SIMD loop over the first n4 elements (n4 % 4 == 0) of arrays outside the
 * module: per chunk of up to CHUNK floats, ins[i] is copied into slot i (the floats from i·CHUNK),
 * `loop(len)` runs on the slots (their byte offsets are slot·CHUNK·4), and each out [array, slot]
 * is copied back from its slot. Returns n4.
 */
export function stagedChunks(simd: SimdRuntime, n4: number, ins: readonly Float32Array[], outs: readonly (readonly [Float32Array, number])[], loop: (len: number) => void): number {
  const slots = Math.max(ins.length, ...outs.map(([, slot]) => slot + 1));
  const heap = simd.reserve(slots * CHUNK);
  for (let off = 0; off < n4; off += CHUNK) {
    const len = Math.min(CHUNK, n4 - off);
    ins.forEach((a, slot) => heap.set(a.subarray(off, off + len), slot * CHUNK));
    loop(len);
    for (const [a, slot] of outs) a.set(heap.subarray(slot * CHUNK, slot * CHUNK + len), off);
  }
  return n4;
}

let cached: SimdRuntime | null | undefined;
let compiled: WebAssembly.Module | undefined;

/** The kernels' shared scratch instance. */
export function getSimd(): SimdRuntime | undefined {
  if (cached === undefined) {
    cached = null;
    if (process.env.COLORA_NO_SIMD !== '1') {
      try {
        compiled ??= new WebAssembly.Module(simdModuleBytes());
        cached = new SimdRuntime(new WebAssembly.Instance(compiled, {}).exports as unknown as Exports);
      } catch {
        cached = null;
      }
    }
  }
  return cached ?? undefined;
}

/**
 * An instance with memory of its own, for data that must stay in module memory between calls
 * (the decoding KV cache, read in place by the attention loops). Undefined where getSimd() is.
 */
export function newSimdInstance(): SimdRuntime | undefined {
  if (!getSimd() || !compiled) return undefined;
  return new SimdRuntime(new WebAssembly.Instance(compiled, {}).exports as unknown as Exports);
}

/** For tests: turn the SIMD path off (false) or back to detection (true). */
export function setSimdForTesting(enabled: boolean): void {
  cached = enabled ? undefined : null;
}
