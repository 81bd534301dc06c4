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
 *
 * Two layouts share the per-head routines (a head's Q, K, V, O are strided sub-matrices):
 * - ATTENTION: q [B, H, T, hd], k and v [B, H, S, hd], out [B, H, T, hd] (the ops.ts seam);
 * - ATTENTION_QKV: the fused projection's output qkv [B·T, 3D] read in place and out written
 *   as merged heads [B·T, D], so the head split, the four head transposes and their gradients
 *   (a concat and four more transposes) never run;
 * - ATTENTION_GQA: separate projections q [B·T, H·hd], k and v [B·T, KVH·hd] read in place the
 *   same way, query head h with kv head ⌊h / (H/KVH)⌋ (grouped-query attention: the kv heads are
 *   never repeated; in the backward each kv head sums its query heads' dK and dV).
 */
import { getBlas } from '../blas.js';
import { getSimd, type SimdRuntime } from '../simd/runtime.js';
import { fexp } from './fast-math.js';
import { DECODE_MAX_T, KVStore } from '../kv-store.js';
import { alloc, f32, out, vals, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';

/** A head's matrix: rows start at `off` in `a`, `ld` floats apart. */
interface Mat {
  a: Float32Array;
  off: number;
  ld: number;
}

/** Where head (b, h) keeps its matrices. */
type HeadMats = (b: number, h: number) => { q: Mat; k: Mat; v: Mat; o: Mat };

interface Shape {
  B: number;
  H: number;
  T: number;
  S: number;
  hd: number;
}

let scratch = new Float32Array(0);
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch;
}

/** The first key of batch row b that the mask shows (S if none). */
function firstVisibleKey(mask: ArrayLike<number> | undefined, b: number, S: number): number {
  if (!mask) return 0;
  let j = 0;
  while (j < S && !mask[b * S + j]) j++;
  return j;
}

/** Softmax in place over the T score rows of one head (stride ld), over the keys each query sees. */
function maskedSoftmaxRows(p: Float32Array, off: number, ld: number, T: number, S: number, mask: ArrayLike<number> | undefined, mOff: number): void {
  for (let t = 0; t < T; t++) {
    const row = off + t * ld;
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
 * One head's forward: scores = scale · Q Kᵀ, masked softmax, O = P V; P (T × S, packed) is
 * stored at p[pOff]. With SIMD the scores live in the module's memory (rows padded to 4), and
 * P is copied out only if keepP (backprop needs it; decoding does not).
 */
function headForward(simd: SimdRuntime | undefined, sh: Shape, scale: number, m: ReturnType<HeadMats>, p: Float32Array, pOff: number, mask: ArrayLike<number> | undefined, b: number, keepP = true): void {
  const { T, S, hd } = sh;
  const { sgemm } = getBlas();
  const { q, k, v, o } = m;
  if (!simd) {
    sgemm(false, true, T, S, hd, scale, q.a, q.off, q.ld, k.a, k.off, k.ld, 0, p, pOff, S);
    maskedSoftmaxRows(p, pOff, S, T, S, mask, b * S);
    sgemm(false, false, T, hd, S, 1, p, pOff, S, v.a, v.off, v.ld, 0, o.a, o.off, o.ld);
    return;
  }
  const Sp = (S + 3) & ~3;
  const heap = simd.reserve(T * Sp);
  sgemm(false, true, T, S, hd, scale, q.a, q.off, q.ld, k.a, k.off, k.ld, 0, heap, 0, Sp);
  if (mask) {
    for (let j = 0; j < S; j++) {
      if (mask[b * S + j]) continue;
      for (let t = 0; t < T; t++) heap[t * Sp + j] = -Infinity;
    }
  }
  simd.fn.softmaxRows(0, T, Sp, S - T + 1);
  const firstKey = firstVisibleKey(mask, b, S);
  for (let t = 0; t < T && firstKey >= S - T + t + 1; t++) {
    heap.fill(1 / S, t * Sp, t * Sp + S);
    heap.fill(0, t * Sp + S, (t + 1) * Sp);
  }
  if (keepP) {
    if (Sp === S) p.set(heap.subarray(0, T * S), pOff);
    else for (let t = 0; t < T; t++) p.set(heap.subarray(t * Sp, t * Sp + S), pOff + t * S);
  }
  sgemm(false, false, T, hd, S, 1, heap, 0, Sp, v.a, v.off, v.ld, 0, o.a, o.off, o.ld);
}

/**
 * One head's backward into dq, dk, dv (laid out like q, k, v); dy laid out like o. kvBeta 1 adds
 * dk and dv to what is there (the later query heads of a grouped-query kv head).
 */
function headBackward(
  simd: SimdRuntime | undefined,
  sh: Shape,
  scale: number,
  m: ReturnType<HeadMats>,
  dm: ReturnType<HeadMats>,
  p: Float32Array,
  pOff: number,
  mask: ArrayLike<number> | undefined,
  b: number,
  kvBeta = 0,
): void {
  const { T, S, hd } = sh;
  const { sgemm } = getBlas();
  const { q, k, v } = m;
  const { q: dq, k: dk, v: dv, o: dy } = dm;
  sgemm(true, false, S, hd, T, 1, p, pOff, S, dy.a, dy.off, dy.ld, kvBeta, dv.a, dv.off, dv.ld);
  let ds: Float32Array;
  if (simd) {
    // dP and P in the module's memory; dS computed in place over dP.
    ds = simd.reserve(2 * T * S);
    sgemm(false, true, T, S, hd, 1, dy.a, dy.off, dy.ld, v.a, v.off, v.ld, 0, ds, 0, S);
    ds.set(p.subarray(pOff, pOff + T * S), T * S);
    simd.fn.softmaxGradRows(0, T * S * 4, T, S, scale);
  } else {
    ds = scratchOf(T * S);
    sgemm(false, true, T, S, hd, 1, dy.a, dy.off, dy.ld, v.a, v.off, v.ld, 0, ds, 0, S);
    for (let t = 0; t < T; t++) {
      const row = t * S;
      const prow = pOff + row;
      let dot = 0;
      for (let j = 0; j < S; j++) dot += ds[row + j] * p[prow + j];
      for (let j = 0; j < S; j++) ds[row + j] = p[prow + j] * (ds[row + j] - dot) * scale;
    }
  }
  // Queries that see no key got a constant (uniform) row: no gradient flows through it.
  const firstKey = firstVisibleKey(mask, b, S);
  for (let t = 0; t < T && firstKey >= S - T + t + 1; t++) ds.fill(0, t * S, (t + 1) * S);
  sgemm(false, false, T, hd, S, 1, ds, 0, S, k.a, k.off, k.ld, 0, dq.a, dq.off, dq.ld);
  sgemm(true, false, S, hd, T, 1, ds, 0, S, q.a, q.off, q.ld, kvBeta, dk.a, dk.off, dk.ld);
}

/** [B, H, n, hd] tensors: head (b, h) is a contiguous n × hd block. */
function headMajor(sh: Shape, q: Float32Array, k: Float32Array, v: Float32Array, o: Float32Array): HeadMats {
  const { H, T, S, hd } = sh;
  return (b, h) => {
    const bh = b * H + h;
    return {
      q: { a: q, off: bh * T * hd, ld: hd },
      k: { a: k, off: bh * S * hd, ld: hd },
      v: { a: v, off: bh * S * hd, ld: hd },
      o: { a: o, off: bh * T * hd, ld: hd },
    };
  };
}

/**
 * Where a projection's rows are: row n (of B·T) of head h starts at a[off + n·ld + h·hd]. GPT-2's
 * fused qkv [B·T, 3D] holds q, k and v at offsets 0, D and 2D of rows 3D apart; separate q, k, v
 * projections each start at 0 of rows their own width apart. Read in place either way.
 */
interface Rows {
  a: Float32Array;
  off: number;
  ld: number;
}

/**
 * Heads of projections laid out as rows (T = S): query head h of batch row b reads kv head
 * ⌊h / rep⌋ (grouped-query attention; rep = 1 is multi-head), out is merged heads [B·T, H·hd].
 */
function projectionMajor(sh: Shape, rep: number, q: Rows, k: Rows, v: Rows, o: Rows): HeadMats {
  const { T, hd } = sh;
  return (b, h) => {
    const g = Math.floor(h / rep);
    return {
      q: { a: q.a, off: q.off + b * T * q.ld + h * hd, ld: q.ld },
      k: { a: k.a, off: k.off + b * T * k.ld + g * hd, ld: k.ld },
      v: { a: v.a, off: v.off + b * T * v.ld + g * hd, ld: v.ld },
      o: { a: o.a, off: o.off + b * T * o.ld + h * hd, ld: o.ld },
    };
  };
}

/** qkv [B·T, 3D] as q, k, v rows (the fused projection of GPT-2). */
function qkvRows(x: Float32Array, D: number): [Rows, Rows, Rows] {
  return [
    { a: x, off: 0, ld: 3 * D },
    { a: x, off: D, ld: 3 * D },
    { a: x, off: 2 * D, ld: 3 * D },
  ];
}

/**
 * Up to this many queries per head (cached decoding feeds one), the forward runs as plain dot
 * products: a BLAS call per head costs more than the arithmetic of a 1 × S × hd product. The
 * same bound sizes the KV store's scratch for the in-place decoding loops.
 */
const SMALL_T = DECODE_MAX_T;

/** n floats from a[from] to b[to]: a loop, as a view per head row (subarray + set) costs more than the copy. */
function copy(a: Float32Array, from: number, b: Float32Array, to: number, n: number): void {
  for (let i = 0; i < n; i++) b[to + i] = a[from + i];
}

/**
 * Masked softmax over the T score rows (stride Sp) of every head, in module memory at float
 * offset sAt; queries that see no key get the uniform average (as headForward).
 */
function softmaxHeads(simd: SimdRuntime, heap: Float32Array, sAt: number, sh: Shape, Sp: number, mv: ArrayLike<number> | undefined): void {
  const { B, H, T, S } = sh;
  for (let b = 0; b < B; b++) {
    if (mv) {
      for (let j = 0; j < S; j++) {
        if (mv[b * S + j]) continue;
        for (let r = b * H * T; r < (b + 1) * H * T; r++) heap[sAt + r * Sp + j] = -Infinity;
      }
    }
    const firstKey = firstVisibleKey(mv, b, S);
    for (let h = 0; h < H; h++) {
      const rowAt = sAt + (b * H + h) * T * Sp;
      simd.fn.softmaxRows(rowAt * 4, T, Sp, S - T + 1);
      for (let t = 0; t < T && firstKey >= S - T + t + 1; t++) {
        heap.fill(1 / S, rowAt + t * Sp, rowAt + t * Sp + S);
        heap.fill(0, rowAt + t * Sp + S, rowAt + (t + 1) * Sp);
      }
    }
  }
}

/** Small-T forward in the SIMD module: all heads' q, k, v (packed [B, H, n, hd]) staged once, three passes. */
function smallTSimd(simd: SimdRuntime, sh: Shape, scale: number, qv: Float32Array, kv: Float32Array, vv: Float32Array, mv: ArrayLike<number> | undefined, p: Float32Array, o: Float32Array): void {
  const { B, H, T, S, hd } = sh;
  const BH = B * H;
  const Sp = (S + 3) & ~3;
  const qAt = 0;
  const kAt = qAt + BH * T * hd;
  const vAt = kAt + BH * S * hd;
  const sAt = vAt + BH * S * hd;
  const oAt = sAt + BH * T * Sp;
  const heap = simd.reserve(oAt + BH * T * hd);
  heap.set(qv.subarray(0, BH * T * hd), qAt);
  heap.set(kv.subarray(0, BH * S * hd), kAt);
  heap.set(vv.subarray(0, BH * S * hd), vAt);
  simd.fn.attentionScores(qAt * 4, kAt * 4, sAt * 4, BH, T, S, Sp, hd, S * hd, scale);
  softmaxHeads(simd, heap, sAt, sh, Sp, mv);
  simd.fn.attentionValues(sAt * 4, vAt * 4, oAt * 4, BH, T, S, Sp, hd, S * hd);
  o.set(heap.subarray(oAt, oAt + BH * T * hd));
  if (Sp === S) p.set(heap.subarray(sAt, sAt + BH * T * S));
  else for (let r = 0; r < BH * T; r++) p.set(heap.subarray(sAt + r * Sp, sAt + r * Sp + S), r * S);
}

/**
 * Cached decoding in the store's own module memory: the queries are gathered head-major into its
 * scratch region, the loops read keys and values where the store keeps them (no copy of the
 * cache), and the output is scattered back to merged heads [B·T, H·hd]. With grouped-query heads
 * (rep = H / KVH query heads per kv head) each group's queries are consecutive heads, scored
 * against one kv head (key stride 0 within the group).
 */
function decodeInPlace(st: KVStore, layer: number, sh: Shape, rep: number, scale: number, q: Rows, mv: ArrayLike<number> | undefined, o: Float32Array): void {
  const simd = st.simd as SimdRuntime;
  const { B, H, T, S, hd } = sh;
  const D = H * hd;
  const BH = B * H;
  const Sp = (S + 3) & ~3;
  const qAt = 0;
  const sAt = BH * T * hd;
  const oAt = sAt + BH * T * Sp;
  const heap = simd.heap;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = q.off + (b * T + t) * q.ld;
      for (let h = 0; h < H; h++) copy(q.a, row + h * hd, heap, qAt + ((b * H + h) * T + t) * hd, hd);
    }
  }
  const kvs = st.cap * hd;
  const kAt = st.offsetOf(st.k[layer]);
  const vAt = st.offsetOf(st.v[layer]);
  if (rep === 1) simd.fn.attentionScores(qAt * 4, kAt * 4, sAt * 4, BH, T, S, Sp, hd, kvs, scale);
  else {
    for (let g = 0; g < BH / rep; g++) {
      simd.fn.attentionScores((qAt + g * rep * T * hd) * 4, (kAt + g * kvs) * 4, (sAt + g * rep * T * Sp) * 4, rep, T, S, Sp, hd, 0, scale);
    }
  }
  softmaxHeads(simd, heap, sAt, sh, Sp, mv);
  if (rep === 1) simd.fn.attentionValues(sAt * 4, vAt * 4, oAt * 4, BH, T, S, Sp, hd, kvs);
  else {
    for (let g = 0; g < BH / rep; g++) {
      simd.fn.attentionValues((sAt + g * rep * T * Sp) * 4, (vAt + g * kvs) * 4, (oAt + g * rep * T * hd) * 4, rep, T, S, Sp, hd, 0);
    }
  }
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) copy(heap, oAt + ((b * H + h) * T + t) * hd, o, (b * T + t) * D + h * hd, hd);
    }
  }
}

/** Small-T forward as JavaScript dot products (no SIMD, or hd not a multiple of 4). */
function smallTJs(sh: Shape, scale: number, qv: Float32Array, kv: Float32Array, vv: Float32Array, mv: ArrayLike<number> | undefined, p: Float32Array, o: Float32Array): void {
  const { B, H, T, S, hd } = sh;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const kOff = bh * S * hd;
      for (let t = 0; t < T; t++) {
        const qOff = (bh * T + t) * hd;
        const row = (bh * T + t) * S;
        const lim = S - T + t + 1;
        for (let j = 0; j < lim; j++) {
          const kr = kOff + j * hd;
          // Four independent sums: the dot product is latency-bound with one.
          let d0 = 0;
          let d1 = 0;
          let d2 = 0;
          let d3 = 0;
          let i = 0;
          for (; i + 3 < hd; i += 4) {
            d0 += qv[qOff + i] * kv[kr + i];
            d1 += qv[qOff + i + 1] * kv[kr + i + 1];
            d2 += qv[qOff + i + 2] * kv[kr + i + 2];
            d3 += qv[qOff + i + 3] * kv[kr + i + 3];
          }
          for (; i < hd; i++) d0 += qv[qOff + i] * kv[kr + i];
          p[row + j] = (d0 + d1 + (d2 + d3)) * scale;
        }
      }
      maskedSoftmaxRows(p, bh * T * S, S, T, S, mv, b * S);
      for (let t = 0; t < T; t++) {
        const oOff = (bh * T + t) * hd;
        const row = (bh * T + t) * S;
        o.fill(0, oOff, oOff + hd);
        for (let j = 0; j < S; j++) {
          const w = p[row + j];
          if (w === 0) continue;
          const vr = kOff + j * hd;
          for (let i = 0; i < hd; i++) o[oOff + i] += w * vv[vr + i];
        }
      }
    }
  }
}

function shapeOf(q: TensorInfo, k: TensorInfo): Shape {
  const [B, H, T, hd] = q.shape;
  const S = k.shape[2];
  if (q.shape.length !== 4 || k.shape.length !== 4 || k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== hd || S < T) {
    throw new Error(`causal attention: q [${q.shape}] and k [${k.shape}] must be [B, H, T, hd] and [B, H, S, hd] with S >= T`);
  }
  return { B, H, T, S, hd };
}

/** inputs q, k, v (mask optional), attrs {scale} → [out [B, H, T, hd], P [B, H, T, S]]. */
export function attentionKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { q, k, v, mask } = args.inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo; mask?: TensorInfo };
  const scale = (args.attrs as { scale: number }).scale;
  const sh = shapeOf(q, k);
  const { B, H, T, S, hd } = sh;
  const qv = f32(backend, q);
  const kv = f32(backend, k);
  const vv = f32(backend, v);
  const mv = mask ? vals(backend, mask) : undefined;
  const p = alloc(backend, B * H * T * S);
  const o = alloc(backend, B * H * T * hd);
  const simd = getSimd();
  if (T <= SMALL_T && simd && hd % 4 === 0) smallTSimd(simd, sh, scale, qv, kv, vv, mv, p, o);
  else if (T <= SMALL_T) smallTJs(sh, scale, qv, kv, vv, mv, p, o);
  else {
    const heads = headMajor(sh, qv, kv, vv, o);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) headForward(simd, sh, scale, heads(b, h), p, (b * H + h) * T * S, mv, b);
  }
  return [out(backend, [B, H, T, hd], o), out(backend, [B, H, T, S], p)];
}

/** inputs dy, q, k, v, p (mask optional), attrs {scale} → [dq, dk, dv]. */
export function attentionGradKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { dy, q, k, v, p, mask } = args.inputs as { dy: TensorInfo; q: TensorInfo; k: TensorInfo; v: TensorInfo; p: TensorInfo; mask?: TensorInfo };
  const scale = (args.attrs as { scale: number }).scale;
  const sh = shapeOf(q, k);
  const { B, H, T, S, hd } = sh;
  const pv = f32(backend, p);
  const mv = mask ? vals(backend, mask) : undefined;
  const dq = alloc(backend, B * H * T * hd);
  const dk = alloc(backend, B * H * S * hd);
  const dv = alloc(backend, B * H * S * hd);
  const heads = headMajor(sh, f32(backend, q), f32(backend, k), f32(backend, v), f32(backend, dy));
  const dheads = headMajor(sh, dq, dk, dv, f32(backend, dy));
  const simd = getSimd();
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) headBackward(simd, sh, scale, heads(b, h), dheads(b, h), pv, (b * H + h) * T * S, mv, b);
  return [out(backend, q.shape.slice(), dq), out(backend, k.shape.slice(), dk), out(backend, v.shape.slice(), dv)];
}

function qkvShape(qkv: TensorInfo, attrs: { batch: number; heads: number }): Shape {
  const [N, D3] = qkv.shape;
  const B = attrs.batch;
  const H = attrs.heads;
  if (qkv.shape.length !== 2 || D3 % (3 * H) !== 0 || N % B !== 0) {
    throw new Error(`causal self-attention: qkv [${qkv.shape}] must be [batch·T, 3·D] with D a multiple of ${H} heads`);
  }
  const T = N / B;
  return { B, H, T, S: T, hd: D3 / 3 / H };
}

/** inputs qkv [B·T, 3D], attrs {batch, heads, scale} → [out [B·T, D], P [B, H, T, T]]. */
export function attentionQkvKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { qkv } = args.inputs as { qkv: TensorInfo };
  const attrs = args.attrs as { batch: number; heads: number; scale: number };
  const sh = qkvShape(qkv, attrs);
  const { B, H, T, hd } = sh;
  const D = H * hd;
  const p = alloc(backend, B * H * T * T);
  const o = alloc(backend, B * T * D);
  const [qr, kr, vr] = qkvRows(f32(backend, qkv), D);
  const heads = projectionMajor(sh, 1, qr, kr, vr, { a: o, off: 0, ld: D });
  const simd = getSimd();
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) headForward(simd, sh, attrs.scale, heads(b, h), p, (b * H + h) * T * T, undefined, b);
  return [out(backend, [B * T, D], o), out(backend, [B, H, T, T], p)];
}

/** inputs dy [B·T, D], qkv, p, attrs as the forward → dqkv [B·T, 3D]. */
export function attentionQkvGradKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { dy, qkv, p } = args.inputs as { dy: TensorInfo; qkv: TensorInfo; p: TensorInfo };
  const attrs = args.attrs as { batch: number; heads: number; scale: number };
  const sh = qkvShape(qkv, attrs);
  const { B, H, T } = sh;
  const dqkv = alloc(backend, qkv.shape[0] * qkv.shape[1]);
  const dyv = f32(backend, dy);
  const D = H * sh.hd;
  const dyr = { a: dyv, off: 0, ld: D };
  const [qr, kr, vr] = qkvRows(f32(backend, qkv), D);
  const [dqr, dkr, dvr] = qkvRows(dqkv, D);
  const heads = projectionMajor(sh, 1, qr, kr, vr, dyr);
  const dheads = projectionMajor(sh, 1, dqr, dkr, dvr, dyr);
  const pv = f32(backend, p);
  const simd = getSimd();
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) headBackward(simd, sh, attrs.scale, heads(b, h), dheads(b, h), pv, (b * H + h) * T * T, undefined, b);
  return out(backend, qkv.shape.slice(), dqkv);
}

/** q [B·T, H·hd], k and v [B·T, KVH·hd] → the shape and rep = H / KVH. */
function groupedShape(q: TensorInfo, k: TensorInfo, v: TensorInfo, attrs: { batch: number; heads: number }): [Shape, number] {
  const [N, W] = q.shape;
  const B = attrs.batch;
  const H = attrs.heads;
  const hd = W / H;
  const KVH = k.shape[1] / hd;
  if (q.shape.length !== 2 || !Number.isInteger(hd) || !Number.isInteger(KVH) || H % KVH !== 0 || k.shape[0] !== N || v.shape[0] !== N || v.shape[1] !== k.shape[1] || N % B !== 0) {
    throw new Error(`grouped self-attention: q [${q.shape}] (${H} heads), k [${k.shape}] and v [${v.shape}] must be [batch·T, H·hd] and [batch·T, KVH·hd] with H a multiple of KVH`);
  }
  const T = N / B;
  return [{ B, H, T, S: T, hd }, H / KVH];
}

/**
 * inputs q [B·T, H·hd], k and v [B·T, KVH·hd] (mask [B, T] optional), attrs {batch, heads, scale}
 * → [out [B·T, H·hd], P [B, H, T, T]]. Query head h attends with kv head ⌊h / (H/KVH)⌋; the kv
 * heads are read in place, never repeated.
 */
export function groupedAttentionKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { q, k, v, mask } = args.inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo; mask?: TensorInfo };
  const attrs = args.attrs as { batch: number; heads: number; scale: number };
  const [sh, rep] = groupedShape(q, k, v, attrs);
  const { B, H, T, hd } = sh;
  const D = H * hd;
  const W = k.shape[1];
  const mv = mask ? vals(backend, mask) : undefined;
  const p = alloc(backend, B * H * T * T);
  const o = alloc(backend, B * T * D);
  const heads = projectionMajor(sh, rep, { a: f32(backend, q), off: 0, ld: D }, { a: f32(backend, k), off: 0, ld: W }, { a: f32(backend, v), off: 0, ld: W }, { a: o, off: 0, ld: D });
  const simd = getSimd();
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) headForward(simd, sh, attrs.scale, heads(b, h), p, (b * H + h) * T * T, mv, b);
  return [out(backend, [B * T, D], o), out(backend, [B, H, T, T], p)];
}

/** inputs dy [B·T, H·hd], q, k, v, p (mask optional), attrs as the forward → [dq, dk, dv]. */
export function groupedAttentionGradKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { dy, q, k, v, p, mask } = args.inputs as { dy: TensorInfo; q: TensorInfo; k: TensorInfo; v: TensorInfo; p: TensorInfo; mask?: TensorInfo };
  const attrs = args.attrs as { batch: number; heads: number; scale: number };
  const [sh, rep] = groupedShape(q, k, v, attrs);
  const { B, H, T, hd } = sh;
  const D = H * hd;
  const W = k.shape[1];
  const mv = mask ? vals(backend, mask) : undefined;
  const dq = alloc(backend, B * T * D);
  const dk = alloc(backend, B * T * W);
  const dv = alloc(backend, B * T * W);
  const dyr = { a: f32(backend, dy), off: 0, ld: D };
  const heads = projectionMajor(sh, rep, { a: f32(backend, q), off: 0, ld: D }, { a: f32(backend, k), off: 0, ld: W }, { a: f32(backend, v), off: 0, ld: W }, dyr);
  const dheads = projectionMajor(sh, rep, { a: dq, off: 0, ld: D }, { a: dk, off: 0, ld: W }, { a: dv, off: 0, ld: W }, dyr);
  const pv = f32(backend, p);
  const simd = getSimd();
  // Heads in order: the first query head of each group writes its kv head's gradient, the rest add to it.
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) headBackward(simd, sh, attrs.scale, heads(b, h), dheads(b, h), pv, (b * H + h) * T * T, mv, b, h % rep === 0 ? 0 : 1);
  }
  return [out(backend, q.shape.slice(), dq), out(backend, k.shape.slice(), dk), out(backend, v.shape.slice(), dv)];
}

let decodeScratch = new Float32Array(0);
function decodeScratchOf(n: number): Float32Array {
  if (decodeScratch.length < n) decodeScratch = new Float32Array(n);
  return decodeScratch;
}

/**
 * Cached decoding: inputs qkv [B·T, 3D] (GPT-2's fused projection), or q [B·T, H·hd] with k and v
 * [B·T, KVH·hd] (grouped-query heads; the store holds KVH heads), mask [B, S + T] optional; attrs
 * {store, layer, batch, heads, scale} → the merged heads [B·T, H·hd]. Writes this step's keys and
 * values into the KVStore (positions S .. S + T − 1 of layer `layer`; the last layer advances its
 * length), then attends over all S + T keys, queries read in place. Query head h reads kv head
 * ⌊h / (H/KVH)⌋. Decoding only: no probabilities, no gradient.
 */
export function cachedAttentionKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const inputs = args.inputs as { qkv?: TensorInfo; q?: TensorInfo; k?: TensorInfo; v?: TensorInfo; mask?: TensorInfo };
  const attrs = args.attrs as { store: number; layer: number; batch: number; heads: number; scale: number };
  const st = KVStore.get(attrs.store);
  const B = attrs.batch;
  const H = attrs.heads;
  let qr: Rows;
  let kr: Rows;
  let vr: Rows;
  let N: number;
  let hd: number;
  let KVH: number;
  if (inputs.qkv) {
    const sh = qkvShape(inputs.qkv, attrs);
    hd = sh.hd;
    KVH = H;
    N = inputs.qkv.shape[0];
    [qr, kr, vr] = qkvRows(f32(backend, inputs.qkv), H * hd);
  } else {
    const { q, k, v } = inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo };
    N = q.shape[0];
    hd = q.shape[1] / H;
    KVH = k.shape[1] / hd;
    if (!Number.isInteger(hd) || !Number.isInteger(KVH) || H % KVH !== 0 || k.shape[0] !== N || v.shape[0] !== N || v.shape[1] !== k.shape[1] || N % B !== 0) {
      throw new Error(`cached attention: q [${q.shape}] (${H} heads), k [${k.shape}] and v [${v.shape}] do not fit grouped-query heads over batch ${B}`);
    }
    qr = { a: f32(backend, q), off: 0, ld: H * hd };
    kr = { a: f32(backend, k), off: 0, ld: KVH * hd };
    vr = { a: f32(backend, v), off: 0, ld: KVH * hd };
  }
  const T = N / B;
  const D = H * hd;
  const rep = H / KVH;
  if (KVH !== st.H || hd !== st.hd) throw new Error(`cached attention: ${KVH} kv heads of ${hd} do not match the cache (${st.H} kv heads of ${st.hd})`);
  st.useQueryHeads(H);
  if (attrs.layer === 0) st.reserve(B, T);
  const S0 = st.length;
  const S = S0 + T;
  if (inputs.mask && (inputs.mask.shape[0] !== B || inputs.mask.shape[1] !== S)) throw new Error(`cached attention: key mask [${inputs.mask.shape}] must be [${B}, ${S}]`);
  const K = st.k[attrs.layer];
  const V = st.v[attrs.layer];
  const stride = st.cap * hd;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = b * T + t;
      for (let g = 0; g < KVH; g++) {
        copy(kr.a, kr.off + n * kr.ld + g * hd, K, (b * KVH + g) * stride + (S0 + t) * hd, hd);
        copy(vr.a, vr.off + n * vr.ld + g * hd, V, (b * KVH + g) * stride + (S0 + t) * hd, hd);
      }
    }
  }
  const o = alloc(backend, B * T * D);
  const mv = inputs.mask ? vals(backend, inputs.mask) : undefined;
  const sh: Shape = { B, H, T, S, hd };
  const simd = getSimd();
  if (T <= SMALL_T && st.simd && hd % 4 === 0) {
    decodeInPlace(st, attrs.layer, sh, rep, attrs.scale, qr, mv, o);
  } else {
    const p = decodeScratchOf(T * S);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const kvOff = (b * KVH + Math.floor(h / rep)) * stride;
        const m = {
          q: { a: qr.a, off: qr.off + b * T * qr.ld + h * hd, ld: qr.ld },
          k: { a: K, off: kvOff, ld: hd },
          v: { a: V, off: kvOff, ld: hd },
          o: { a: o, off: b * T * D + h * hd, ld: D },
        };
        headForward(simd, sh, attrs.scale, m, p, 0, mv, b, false);
      }
    }
  }
  if (attrs.layer === st.nLayer - 1) st.length = S;
  return out(backend, [B * T, D], o);
}
