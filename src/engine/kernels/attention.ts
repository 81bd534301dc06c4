/**
 * Fused causal attention: per (batch, head) two GEMMs around a masked softmax done in place, so
 * the [B, H, T, S] scores are written once and never masked, scaled, exponentiated or normalised
 * by separate passes. The forward also returns the probabilities P (backprop needs them; the
 * forward computes them anyway). The backward is five GEMMs per head and one pass for the softmax
 * Jacobian:
 *
 *   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale,  dQ = dS K,  dK = dSᵀ Q
 *
 * Query t (of T) sits at absolute position S − T + t and sees keys 0 .. S − T + t, further limited
 * by an optional key mask [B, S]. A query that sees no key at all gets the uniform average over
 * all S keys and no gradient, as the composite (fill −1e9, softmax) does.
 */
import { getBlas } from '../blas.js';
import { getSimd, type SimdRuntime } from '../simd/runtime.js';
import { fexp } from './fast-math.js';
import { alloc, f32, out, vals, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';

let scratch = new Float32Array(0);
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch;
}

interface Dims {
  B: number;
  H: number;
  T: number;
  S: number;
  hd: number;
}

function dimsOf(q: TensorInfo, k: TensorInfo): Dims {
  const [B, H, T, hd] = q.shape;
  const S = k.shape[2];
  if (q.shape.length !== 4 || k.shape.length !== 4 || k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== hd || S < T) {
    throw new Error(`causal attention: q [${q.shape}] and k [${k.shape}] must be [B, H, T, hd] and [B, H, S, hd] with S >= T`);
  }
  return { B, H, T, S, hd };
}

/** Softmax in place over the T score rows of one head, over the keys each query may see. */
function maskedSoftmaxRows(p: Float32Array, off: number, T: number, S: number, mask: ArrayLike<number> | undefined, mOff: number): void {
  for (let t = 0; t < T; t++) {
    const row = off + t * S;
    const lim = S - T + t + 1;
    let mx = -Infinity;
    for (let j = 0; j < lim; j++) {
      if (mask && !mask[mOff + j]) continue;
      const v = p[row + j];
      if (v > mx) mx = v;
    }
    if (mx === -Infinity) {
      // No visible key: uniform over all keys (the composite's softmax over an all −1e9 row).
      p.fill(1 / S, row, row + S);
      continue;
    }
    let sum = 0;
    for (let j = 0; j < lim; j++) {
      if (mask && !mask[mOff + j]) {
        p[row + j] = 0;
        continue;
      }
      const e = fexp(p[row + j] - mx);
      p[row + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < lim; j++) p[row + j] *= inv;
    if (lim < S) p.fill(0, row + lim, row + S);
  }
}

/**
 * The forward with each head's scores in the SIMD module's memory (rows padded to a multiple of
 * 4 floats): GEMM into it, SIMD masked softmax in place, copy to P, GEMM from it.
 */
function attentionSimd(
  simd: SimdRuntime,
  { B, H, T, S, hd }: Dims,
  scale: number,
  qv: Float32Array,
  kv: Float32Array,
  vv: Float32Array,
  mv: ArrayLike<number> | undefined,
  p: Float32Array,
  o: Float32Array,
): void {
  const { sgemm } = getBlas();
  const Sp = (S + 3) & ~3;
  const heap = simd.reserve(T * Sp);
  for (let b = 0; b < B; b++) {
    // With a key mask: the first visible key; query rows with a window ending before it see nothing.
    let firstKey = 0;
    if (mv) while (firstKey < S && !mv[b * S + firstKey]) firstKey++;
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const qOff = bh * T * hd;
      const kOff = bh * S * hd;
      const pOff = bh * T * S;
      sgemm(false, true, T, S, hd, scale, qv, qOff, hd, kv, kOff, hd, 0, heap, 0, Sp);
      if (mv) {
        for (let j = 0; j < S; j++) {
          if (mv[b * S + j]) continue;
          for (let t = 0; t < T; t++) heap[t * Sp + j] = -Infinity;
        }
      }
      simd.fn.softmaxRows(0, T, Sp, S - T + 1);
      if (mv) {
        for (let t = 0; t < T && firstKey >= S - T + t + 1; t++) {
          heap.fill(1 / S, t * Sp, t * Sp + S);
          heap.fill(0, t * Sp + S, (t + 1) * Sp);
        }
      }
      if (Sp === S) p.set(heap.subarray(0, T * S), pOff);
      else for (let t = 0; t < T; t++) p.set(heap.subarray(t * Sp, t * Sp + S), pOff + t * S);
      sgemm(false, false, T, hd, S, 1, heap, 0, Sp, vv, kOff, hd, 0, o, qOff, hd);
    }
  }
}

/** inputs q, k, v (mask optional), attrs {scale} → [out [B, H, T, hd], P [B, H, T, S]]. */
export function attentionKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { q, k, v, mask } = args.inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo; mask?: TensorInfo };
  const scale = (args.attrs as { scale: number }).scale;
  const { B, H, T, S, hd } = dimsOf(q, k);
  const qv = f32(backend, q);
  const kv = f32(backend, k);
  const vv = f32(backend, v);
  const mv = mask ? vals(backend, mask) : undefined;
  const p = alloc(backend, B * H * T * S);
  const o = alloc(backend, B * H * T * hd);
  const simd = getSimd();
  if (simd) attentionSimd(simd, { B, H, T, S, hd }, scale, qv, kv, vv, mv, p, o);
  else {
    const { sgemm } = getBlas();
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const bh = b * H + h;
        const qOff = bh * T * hd;
        const kOff = bh * S * hd;
        const pOff = bh * T * S;
        sgemm(false, true, T, S, hd, scale, qv, qOff, hd, kv, kOff, hd, 0, p, pOff, S);
        maskedSoftmaxRows(p, pOff, T, S, mv, b * S);
        sgemm(false, false, T, hd, S, 1, p, pOff, S, vv, kOff, hd, 0, o, qOff, hd);
      }
    }
  }
  return [out(backend, [B, H, T, hd], o), out(backend, [B, H, T, S], p)];
}

/** inputs dy, q, k, v, p (mask optional), attrs {scale} → [dq, dk, dv]. */
export function attentionGradKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { dy, q, k, v, p, mask } = args.inputs as Record<string, TensorInfo | undefined> as {
    dy: TensorInfo;
    q: TensorInfo;
    k: TensorInfo;
    v: TensorInfo;
    p: TensorInfo;
    mask?: TensorInfo;
  };
  const scale = (args.attrs as { scale: number }).scale;
  const { B, H, T, S, hd } = dimsOf(q, k);
  const dyv = f32(backend, dy);
  const qv = f32(backend, q);
  const kv = f32(backend, k);
  const vv = f32(backend, v);
  const pv = f32(backend, p);
  const mv = mask ? vals(backend, mask) : undefined;
  const dq = alloc(backend, B * H * T * hd);
  const dk = alloc(backend, B * H * S * hd);
  const dv = alloc(backend, B * H * S * hd);
  const ds = scratchOf(T * S);
  const { sgemm } = getBlas();
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const qOff = bh * T * hd;
      const kOff = bh * S * hd;
      const pOff = bh * T * S;
      sgemm(true, false, S, hd, T, 1, pv, pOff, S, dyv, qOff, hd, 0, dv, kOff, hd);
      sgemm(false, true, T, S, hd, 1, dyv, qOff, hd, vv, kOff, hd, 0, ds, 0, S);
      for (let t = 0; t < T; t++) {
        const row = t * S;
        const prow = pOff + row;
        const lim = S - T + t + 1;
        let visible = true;
        if (mv) {
          visible = false;
          for (let j = 0; j < lim; j++) if (mv[b * S + j]) visible = true;
        }
        if (!visible) {
          ds.fill(0, row, row + S);
          continue;
        }
        let dot = 0;
        for (let j = 0; j < lim; j++) dot += ds[row + j] * pv[prow + j];
        for (let j = 0; j < lim; j++) ds[row + j] = pv[prow + j] * (ds[row + j] - dot) * scale;
        if (lim < S) ds.fill(0, row + lim, row + S);
      }
      sgemm(false, false, T, hd, S, 1, ds, 0, S, kv, kOff, hd, 0, dq, qOff, hd);
      sgemm(true, false, S, hd, T, 1, ds, 0, S, qv, qOff, hd, 0, dk, kOff, hd);
    }
  }
  return [out(backend, q.shape.slice(), dq), out(backend, k.shape.slice(), dk), out(backend, v.shape.slice(), dv)];
}
