/**
 * The model's building blocks, as one seam between model code and the engine.
 *
 * Model code (src/model, src/adapters, src/train) calls these instead of composing tfjs
 * primitives itself, so that the engine can replace a whole pass with a fused kernel (and its
 * gradient) on backends where that pays, without touching model code. Every op here has a plain
 * tfjs composite implementation that works on every backend and defines the reference numerics.
 *
 * Shapes: B batch, T query length, S key length (S >= T; the queries are the last T positions),
 * H heads, hd head size, D model width, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs';
import * as K from './kernels/names.js';
import type { AdamWAttrs } from './kernels/adamw.js';
import type { KVStore } from './kv-store.js';

/** Whether the active backend has fused kernel `name` (registered by the fast engine only). */
function fused(name: string): boolean {
  const b = tf.getBackend();
  return !!b && tf.getKernel(name, b) !== undefined;
}

/**
 * The linear kernel for weight w: a weight that is not a trainable tf.Variable is frozen (the
 * model's base weights are plain tensors), so its kernel need not keep x for a weight gradient.
 */
function linearKernelFor(w: tf.Tensor): string {
  return w instanceof tf.Variable && w.trainable ? K.LINEAR : K.LINEAR_FROZEN;
}

function run(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor[] {
  const r = tf.engine().runKernel(name, inputs, attrs);
  return Array.isArray(r) ? r : [r];
}

/**
 * y = x W + b, GPT-2 Conv1D layout: x [N, in], W [in, out], b [out]. On the fast engine a W that
 * is not a trainable tf.Variable is frozen: asking for its gradient is an error (pass a
 * tf.Variable to train the base weights, as pretraining does).
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (fused(K.LINEAR)) return run(linearKernelFor(w), b ? { x, w, b } : { x, w }, { transposeW: false })[0] as tf.Tensor2D;
  return compositeLinear(x, w, b, false);
}

function compositeLinear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D | undefined, transposeW: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const y = tf.matMul(x, w, false, transposeW);
    return (b ? tf.add(y, b) : y) as tf.Tensor2D;
  });
}

/** LayerNorm over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  // The kernel's other outputs (row mean and 1/std) are saved for backprop by the engine.
  if (fused(K.LAYER_NORM)) return tf.tidy(() => run(K.LAYER_NORM, { x, gamma, beta }, { eps })[0]);
  return compositeLayerNorm(x, gamma, beta, eps);
}

function compositeLayerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), axis, true);
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** GELU, tanh approximation (GPT-2's "gelu_new"). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  if (!fused(K.GELU_TANH)) return compositeGeluTanh(x);
  // Outside gradient recording (decoding, evaluation) nothing will read s: the kernel skips it.
  return tf.engine().isTapeOn() ? fusedGelu(x) : run(K.GELU_TANH, { x }, { withS: false })[0];
}

/** Forward returns [y, s = sigmoid(2u)]; s is saved so the backward needs no transcendental. */
type CustomGradFunc = Parameters<typeof tf.customGrad>[0];

const fusedGelu = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const [y, s] = run(K.GELU_TANH, { x });
  save([x, s]);
  return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => run(K.GELU_TANH_GRAD, { dy, x: saved[0], s: saved[1] })[0] };
}) as CustomGradFunc) as (x: tf.Tensor) => tf.Tensor;

function compositeGeluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const c = Math.sqrt(2 / Math.PI);
    const inner = tf.mul(c, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/**
 * Causal scaled dot-product attention. q [B, H, T, hd], k and v [B, H, S, hd]; query t sits at
 * absolute position S - T + t and sees keys 0 .. S - T + t. Returns [B, H, T, hd].
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  if (fused(K.ATTENTION)) return fusedAttention(q, k, v);
  return compositeCausalAttention(q, k, v);
}

/**
 * The fused kernel returns [out, P]; P (the softmax probabilities) is saved for the backward. The
 * key mask is no input of the differentiated function (it has no gradient) but is saved with it.
 */
function fusedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, keyMask?: tf.Tensor2D): tf.Tensor4D {
  const scale = 1 / Math.sqrt(q.shape[3]);
  const f = tf.customGrad(((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
    const [o, p] = run(K.ATTENTION, keyMask ? { q, k, v, mask: keyMask } : { q, k, v }, { scale });
    save(keyMask ? [q, k, v, p, keyMask] : [q, k, v, p]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp, sm] = saved;
        return run(K.ATTENTION_GRAD, sm ? { dy, q: sq, k: sk, v: sv, p: sp, mask: sm } : { dy, q: sq, k: sk, v: sv, p: sp }, { scale });
      },
    };
  }) as CustomGradFunc) as (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor;
  return f(q, k, v) as tf.Tensor4D;
}

function compositeCausalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, , T, hd] = q.shape;
    const S = k.shape[2];
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)) as tf.Tensor4D;
    if (T > 1) {
      const row = tf.range(0, T, 1, 'int32').reshape([T, 1]).add(S - T);
      const col = tf.range(0, S, 1, 'int32').reshape([1, S]);
      const allowed = tf.lessEqual(col, row);
      scores = tf.where(allowed, scores, tf.fill(scores.shape, -1e9)) as tf.Tensor4D;
    }
    return tf.matMul(tf.softmax(scores), v) as tf.Tensor4D;
  });
}

/** Rows of an embedding table: table [V, D], ids int32 [...] → [..., D]. */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  return tf.gather(table, ids);
}

/**
 * Mean token cross-entropy over the positions whose weight is non-zero:
 * sum_i w_i * (logsumexp(logits_i) - logits_i[target_i]) / sum_i w_i.
 * logits [N, V] float32, targets [N] int32, weights [N] float32.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  if (fused(K.CROSS_ENTROPY)) return tf.tidy(() => run(K.CROSS_ENTROPY, { logits, targets, weights })[0] as tf.Scalar);
  return compositeCrossEntropy(logits, targets, weights);
}

function compositeCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const V = logits.shape[1];
    const logp = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(targets.toInt(), V)), 1);
    const total = tf.maximum(tf.sum(weights), 1e-9);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), total) as tf.Scalar;
  });
}

/** y = x Wᵀ + b for a weight stored [out, in] (the tied LM head: logits = h · wteᵀ). x [N, in]. */
export function linearT(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (fused(K.LINEAR)) return run(linearKernelFor(w), b ? { x, w, b } : { x, w }, { transposeW: true })[0] as tf.Tensor2D;
  return compositeLinear(x, w, b, true);
}

/**
 * causalAttention with some keys hidden: keyMask [B, S] bool, true where the key may be attended
 * to (left-padded batches hide their padding). A hidden key gets exactly zero weight; a query
 * that sees no key at all (a padding position) gets a harmless average instead of NaN.
 */
export function causalAttentionMasked(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, keyMask: tf.Tensor2D): tf.Tensor4D {
  if (fused(K.ATTENTION)) return fusedAttention(q, k, v, keyMask);
  return compositeCausalAttentionMasked(q, k, v, keyMask);
}

function compositeCausalAttentionMasked(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, keyMask: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, , T, hd] = q.shape;
    const S = k.shape[2];
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)) as tf.Tensor4D;
    const row = tf.range(0, T, 1, 'int32').reshape([T, 1]).add(S - T);
    const col = tf.range(0, S, 1, 'int32').reshape([1, S]);
    const allowed = tf.logicalAnd(tf.lessEqual(col, row), tf.cast(keyMask, 'bool').reshape([B, 1, 1, S]));
    const masked = tf.where(allowed, scores, tf.fill(scores.shape, -1e9));
    return tf.matMul(tf.softmax(masked), v) as tf.Tensor4D;
  });
}

/** A low-rank (LoRA) correction of a linear layer: scale · (x Aᵀ) Bᵀ with A [r, in], B [out, r]. */
export interface LowRank {
  A: tf.Tensor2D;
  B: tf.Tensor2D;
  scale: number;
}

export interface LinearFusedOptions {
  b?: tf.Tensor1D;
  lowRank?: LowRank;
  /** Added to the output (the residual stream), [N, out]. */
  residual?: tf.Tensor2D;
}

/**
 * A linear layer with its adapter and its residual add as one op:
 * y = residual + x W + b + scale · (x Aᵀ) Bᵀ, x [N, in], W [in, out] (every part but x, W optional).
 * The fast engine writes y once (two or three GEMMs into the same output) and computes the input
 * gradient in one kernel; elsewhere this is the plain composition.
 */
export function linearFused(x: tf.Tensor2D, w: tf.Tensor2D, o: LinearFusedOptions = {}): tf.Tensor2D {
  const extra: tf.NamedTensorMap = {};
  if (o.b) extra.b = o.b;
  if (o.residual) extra.residual = o.residual;
  if (o.lowRank && fused(K.LINEAR_LOW_RANK)) {
    const { A, B, scale } = o.lowRank;
    return tf.tidy(() => run(K.LINEAR_LOW_RANK, { x, w, a: A, bm: B, ...extra }, { scale })[0] as tf.Tensor2D);
  }
  if (!o.lowRank && fused(K.LINEAR)) return run(linearKernelFor(w), { x, w, ...extra }, { transposeW: false })[0] as tf.Tensor2D;
  return compositeLinearFused(x, w, o);
}

function compositeLinearFused(x: tf.Tensor2D, w: tf.Tensor2D, o: LinearFusedOptions = {}): tf.Tensor2D {
  return tf.tidy(() => {
    let y: tf.Tensor = compositeLinear(x, w, o.b, false);
    if (o.lowRank) {
      const { A, B, scale } = o.lowRank;
      y = tf.add(y, tf.matMul(tf.mul(tf.matMul(x, A, false, true), scale), B, false, true));
    }
    if (o.residual) y = tf.add(o.residual, y);
    return y as tf.Tensor2D;
  });
}

/**
 * Causal self-attention straight from the fused q/k/v projection: qkv [batch·T, 3D] (q, k, v
 * each D wide, H heads of D/H inside each, rows ordered batch-major) → the merged heads
 * [batch·T, D]. The same as splitting, reshaping to [B, H, T, hd], causalAttention and merging
 * back; the fast engine reads the heads in place and writes them merged, so none of that data
 * movement (nor its gradient) happens.
 */
export function causalSelfAttention(qkv: tf.Tensor2D, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
  if (!keyMask && fused(K.ATTENTION_QKV)) return fusedSelfAttention(qkv, batch, heads);
  return compositeSelfAttention(qkv, batch, heads, keyMask);
}

/** Whether the active backend can decode with a KVStore (cachedSelfAttention). */
export function hasCachedAttention(): boolean {
  return fused(K.ATTENTION_CACHED);
}

/**
 * Decoding on the fast engine: appends this step's keys and values (read from qkv [batch·T, 3D])
 * to `store` at layer `layer`, in place, and returns causalSelfAttention over all cached keys
 * (optionally masked, keyMask [batch, S + T]) as merged heads [batch·T, D]. No gradient. The
 * composite reference is ConcatKVCache.attend (src/model/kv-cache.ts): split, append, attend.
 */
export function cachedSelfAttention(qkv: tf.Tensor2D, store: KVStore, layer: number, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
  const attrs = { store: store.id, layer, batch, heads, scale: 1 / Math.sqrt(qkv.shape[1] / 3 / heads) };
  return run(K.ATTENTION_CACHED, keyMask ? { qkv, mask: keyMask } : { qkv }, attrs)[0] as tf.Tensor2D;
}

function fusedSelfAttention(qkv: tf.Tensor2D, batch: number, heads: number): tf.Tensor2D {
  const attrs = { batch, heads, scale: 1 / Math.sqrt(qkv.shape[1] / 3 / heads) };
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const [o, p] = run(K.ATTENTION_QKV, { qkv: x }, attrs);
    save([x, p]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => run(K.ATTENTION_QKV_GRAD, { dy, qkv: saved[0], p: saved[1] }, attrs)[0],
    };
  }) as CustomGradFunc) as (x: tf.Tensor) => tf.Tensor;
  return f(qkv) as tf.Tensor2D;
}

function compositeSelfAttention(qkv: tf.Tensor2D, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [q, k, v] = splitHeads(qkv, batch, heads);
    const att = keyMask ? causalAttentionMasked(q, k, v, keyMask) : compositeCausalAttention(q, k, v);
    return mergeHeads(att);
  });
}

/** qkv [batch·T, 3D] → q, k, v [batch, H, T, hd]. */
export function splitHeads(qkv: tf.Tensor2D, batch: number, heads: number): tf.Tensor4D[] {
  const [N, D3] = qkv.shape;
  const D = D3 / 3;
  const split = (t: tf.Tensor) => t.reshape([batch, N / batch, heads, D / heads]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  return tf.split(qkv, 3, 1).map(split);
}

/** Heads [batch, H, T, hd] → merged [batch·T, H·hd]. */
export function mergeHeads(o: tf.Tensor4D): tf.Tensor2D {
  const [B, H, T, hd] = o.shape;
  return o.transpose([0, 2, 1, 3]).reshape([B * T, H * hd]) as tf.Tensor2D;
}

/**
 * RMSNorm over the last axis, as Hugging Face's LlamaRMSNorm: x · rsqrt(mean(x²) + eps) · weight
 * (eps inside the root, the weight applied after normalising).
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  // The kernel's second output (1/rms per row) is saved for backprop by the engine.
  if (fused(K.RMS_NORM)) return tf.tidy(() => run(K.RMS_NORM, { x, weight }, { eps })[0]);
  return compositeRmsNorm(x, weight, eps);
}

function compositeRmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), x.rank - 1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
  });
}

/**
 * Rotary position embedding (rotate-half form, Hugging Face's apply_rotary_pos_emb) on the heads
 * of x [N, heads·hd] (rows as the projection writes them): per head, x·cos + rotate_half(x)·sin
 * with rotate_half(x) = [−x₂, x₁] (x₁, x₂ the two halves of the head). cos and sin [N, hd] hold
 * each row's own angles, so left-padded batches (per-row positions) need nothing special.
 */
export function rotary(x: tf.Tensor2D, cos: tf.Tensor2D, sin: tf.Tensor2D, heads: number): tf.Tensor2D {
  if (!fused(K.ROTARY)) return compositeRotary(x, cos, sin, heads);
  if (!tf.engine().isTapeOn()) return run(K.ROTARY, { x, cos, sin }, { heads })[0] as tf.Tensor2D;
  // cos and sin are constants (no gradient): saved with the function, not inputs of it.
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([cos, sin]);
    return {
      value: run(K.ROTARY, { x, cos, sin }, { heads })[0],
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => run(K.ROTARY_GRAD, { dy, cos: saved[0], sin: saved[1] }, { heads })[0],
    };
  }) as CustomGradFunc) as (x: tf.Tensor) => tf.Tensor;
  return f(x) as tf.Tensor2D;
}

function compositeRotary(x: tf.Tensor2D, cos: tf.Tensor2D, sin: tf.Tensor2D, heads: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [N, W] = x.shape;
    const hd = W / heads;
    const x3 = x.reshape([N, heads, hd]);
    const [x1, x2] = tf.split(x3, 2, 2);
    const rot = tf.concat([tf.neg(x2), x1], 2);
    const c = cos.reshape([N, 1, hd]);
    const s = sin.reshape([N, 1, hd]);
    return tf.add(tf.mul(x3, c), tf.mul(rot, s)).reshape([N, W]) as tf.Tensor2D;
  });
}

/** The SwiGLU gate of a Llama MLP: silu(gate) · up = gate · sigmoid(gate) · up. */
export function swiglu(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  if (!fused(K.SWIGLU)) return compositeSwiglu(gate, up);
  if (!tf.engine().isTapeOn()) return run(K.SWIGLU, { gate, up })[0] as tf.Tensor2D;
  return fusedSwiglu(gate, up);
}

const fusedSwiglu = tf.customGrad(((gate: tf.Tensor, up: tf.Tensor, save: tf.GradSaveFunc) => {
  save([gate, up]);
  return { value: run(K.SWIGLU, { gate, up })[0], gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => run(K.SWIGLU_GRAD, { dy, gate: saved[0], up: saved[1] }) };
}) as CustomGradFunc) as (gate: tf.Tensor, up: tf.Tensor) => tf.Tensor2D;

function compositeSwiglu(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D);
}

/**
 * Causal self-attention with grouped-query heads from separate projections: q [B·T, H·hd],
 * k and v [B·T, KVH·hd] (rows batch-major) → merged heads [B·T, H·hd]. Query head h reads key/value
 * head ⌊h / (H/KVH)⌋, as Hugging Face's repeat_kv; KVH = H is plain multi-head attention.
 * keyMask [B, T] as causalAttentionMasked.
 */
export function selfAttention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, heads: number, kvHeads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
  checkGrouped(q, k, heads, kvHeads);
  if (fused(K.ATTENTION_GQA)) return fusedGroupedAttention(q, k, v, batch, heads, keyMask);
  return groupedSelfAttention(q, k, v, batch, heads, kvHeads, keyMask, false);
}

/** The fused kernel returns [out, P]; P is saved for the backward, the key mask with the function. */
function fusedGroupedAttention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
  const attrs = { batch, heads, scale: 1 / Math.sqrt(q.shape[1] / heads) };
  const withMask = (m: tf.NamedTensorMap, mask = keyMask) => (mask ? { ...m, mask } : m);
  if (!tf.engine().isTapeOn()) return tf.tidy(() => run(K.ATTENTION_GQA, withMask({ q, k, v }), attrs)[0] as tf.Tensor2D);
  const f = tf.customGrad(((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
    const [o, p] = run(K.ATTENTION_GQA, withMask({ q, k, v }), attrs);
    save(keyMask ? [q, k, v, p, keyMask] : [q, k, v, p]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp, sm] = saved;
        return run(K.ATTENTION_GQA_GRAD, withMask({ dy, q: sq, k: sk, v: sv, p: sp }, sm as tf.Tensor2D | undefined), attrs);
      },
    };
  }) as CustomGradFunc) as (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor;
  return f(q, k, v) as tf.Tensor2D;
}

function checkGrouped(q: tf.Tensor2D, k: tf.Tensor2D, heads: number, kvHeads: number): void {
  const hd = q.shape[1] / heads;
  if (!Number.isInteger(hd) || heads % kvHeads !== 0 || k.shape[1] !== kvHeads * hd || k.shape[0] % q.shape[0] !== 0) {
    throw new Error(`self-attention: q [${q.shape}] with ${heads} heads and k [${k.shape}] with ${kvHeads} kv heads do not fit (heads must be a multiple of kv heads, widths heads·hd and kvHeads·hd)`);
  }
}

function compositeGroupedSelfAttention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, heads: number, kvHeads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
  return groupedSelfAttention(q, k, v, batch, heads, kvHeads, keyMask, true);
}

/** Split into heads, repeat the kv heads, attend (the plain composition when `plain`), merge. */
function groupedSelfAttention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, heads: number, kvHeads: number, keyMask: tf.Tensor2D | undefined, plain: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const hd = q.shape[1] / heads;
    const qh = toHeads(q, batch, heads, hd);
    const kh = repeatKv(toHeads(k, batch, kvHeads, hd), heads / kvHeads);
    const vh = repeatKv(toHeads(v, batch, kvHeads, hd), heads / kvHeads);
    if (plain) return mergeHeads(keyMask ? compositeCausalAttentionMasked(qh, kh, vh, keyMask) : compositeCausalAttention(qh, kh, vh));
    return mergeHeads(keyMask ? causalAttentionMasked(qh, kh, vh, keyMask) : causalAttention(qh, kh, vh));
  });
}

/** [batch·T, H·hd] → [batch, H, T, hd]. */
export function toHeads(x: tf.Tensor2D, batch: number, heads: number, hd: number): tf.Tensor4D {
  return x.reshape([batch, x.shape[0] / batch, heads, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
}

/** Key/value heads [B, KVH, S, hd] → [B, KVH·rep, S, hd], each repeated rep times in place (repeat_kv). */
export function repeatKv(x: tf.Tensor4D, rep: number): tf.Tensor4D {
  if (rep === 1) return x;
  const [B, KVH, S, hd] = x.shape;
  // Rank 3: tfjs's tile has no gradient above rank 4.
  return tf.tile(x.reshape([B * KVH, 1, S * hd]), [1, rep, 1]).reshape([B, KVH * rep, S, hd]) as tf.Tensor4D;
}

/**
 * Decoding with grouped-query heads on the fast engine: appends this step's keys and values
 * (k, v [batch·T, KVH·hd]) to `store` (sized by KVH: the kv heads, not their repeats) at `layer`,
 * in place, and returns selfAttention of q [batch·T, H·hd] over all cached keys (optionally
 * masked, keyMask [batch, S + T]) as merged heads [batch·T, H·hd]. No gradient. The composite
 * reference is ConcatKVCache.attendGrouped (src/model/kv-cache.ts).
 */
export function cachedGroupedAttention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, store: KVStore, layer: number, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
  const attrs = { store: store.id, layer, batch, heads, scale: 1 / Math.sqrt(q.shape[1] / heads) };
  return run(K.ATTENTION_CACHED, keyMask ? { q, k, v, mask: keyMask } : { q, k, v }, attrs)[0] as tf.Tensor2D;
}

/** Hyper-parameters of one AdamW update (see adamwUpdate); defined beside its kernel. */
export type AdamWStep = AdamWAttrs;

/**
 * One AdamW update of variable p with moments m, v and gradient g (times gradScale, the global
 * clipping factor, when given): returns [p', m', v'] (PyTorch's torch.optim.AdamW, decoupled
 * weight decay). One fused kernel per variable on the fast engine, bit-identical to this
 * composite on tfjs's cpu backend.
 */
export function adamwUpdate(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, o: AdamWStep, gradScale?: tf.Scalar): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (fused(K.ADAMW)) {
    const attrs = { ...o } as unknown as tf.NamedAttrMap;
    return run(K.ADAMW, gradScale ? { p, m, v, g, gradScale } : { p, m, v, g }, attrs) as [tf.Tensor, tf.Tensor, tf.Tensor];
  }
  return compositeAdamW(p, m, v, g, o, gradScale);
}

function compositeAdamW(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, o: AdamWStep, gradScale?: tf.Scalar): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const gs = gradScale ? tf.mul(g, gradScale) : g;
    const m2 = tf.add(tf.mul(m, o.beta1), tf.mul(gs, 1 - o.beta1));
    const v2 = tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(gs), 1 - o.beta2));
    const update = tf.div(tf.div(m2, o.biasCorrection1), tf.add(tf.sqrt(tf.div(v2, o.biasCorrection2)), o.eps));
    const decayed = o.weightDecay > 0 ? tf.mul(p, 1 - o.lr * o.weightDecay) : p;
    return [tf.sub(decayed, tf.mul(update, o.lr)), m2, v2];
  });
}

/**
 * The plain tfjs compositions behind each fused op: the reference numerics (tests compare the
 * fused kernels and their gradients against these on any backend).
 */
export const composite = {
  linear: (x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D) => compositeLinear(x, w, b, false),
  linearT: (x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D) => compositeLinear(x, w, b, true),
  layerNorm: compositeLayerNorm,
  geluTanh: compositeGeluTanh,
  causalAttention: compositeCausalAttention,
  causalAttentionMasked: compositeCausalAttentionMasked,
  crossEntropy: compositeCrossEntropy,
  linearFused: compositeLinearFused,
  causalSelfAttention: compositeSelfAttention,
  adamwUpdate: compositeAdamW,
  rmsNorm: compositeRmsNorm,
  rotary: compositeRotary,
  swiglu: compositeSwiglu,
  selfAttention: compositeGroupedSelfAttention,
};
