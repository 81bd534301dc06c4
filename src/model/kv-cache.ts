/**
 * Keys and values of the positions already processed, per layer, for incremental decoding.
 *
 * Two implementations behind one small interface: ConcatKVCache keeps tfjs tensors and
 * concatenates (tfjs cannot update a buffer in place, so each step copies each layer's K and V
 * once) and is the reference; StoreKVCache keeps them in the fast engine's preallocated buffers,
 * which its cached-attention kernel appends to in place.
 */
import * as tf from '@tensorflow/tfjs';
import { cachedGroupedAttention, cachedSelfAttention, causalAttention, causalAttentionMasked, mergeHeads, repeatKv, splitHeads, toHeads } from '../engine/ops.js';
import { KVStore } from '../engine/kv-store.js';

export interface KVCache {
  /** Positions stored so far (the key length S before the next forward). */
  readonly length: number;
  /**
   * Causal self-attention for `layer` of this step's qkv projection [B·T, 3D] (H heads): its keys
   * and values are appended to the cache, its queries attend over all S + T cached keys (hidden
   * where keyMask [B, S + T] is false). Returns the merged heads [B·T, D]. `length` grows once
   * the last layer has attended.
   */
  attend(layer: number, qkv: tf.Tensor2D, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D;
  /**
   * The same for separate projections with grouped-query heads: q [B·T, H·hd], k and v
   * [B·T, KVH·hd] (ops.selfAttention's layout). The cache keeps the KVH key/value heads, not their
   * repeats. Returns the merged heads [B·T, H·hd].
   */
  attendGrouped(layer: number, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D;
  /** Keep only these batch rows, in this order (to drop finished sequences). */
  selectRows(rows: number[]): void;
  dispose(): void;
}

export class ConcatKVCache implements KVCache {
  private ks: (tf.Tensor4D | undefined)[];
  private vs: (tf.Tensor4D | undefined)[];

  constructor(readonly nLayer: number) {
    this.ks = new Array(nLayer).fill(undefined);
    this.vs = new Array(nLayer).fill(undefined);
  }

  get length(): number {
    return this.ks[this.nLayer - 1]?.shape[2] ?? 0;
  }

  attend(layer: number, qkv: tf.Tensor2D, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
    const [q, k, v] = splitHeads(qkv, batch, heads);
    const kv = this.append(layer, k, v);
    return mergeHeads(keyMask ? causalAttentionMasked(q, kv.k, kv.v, keyMask) : causalAttention(q, kv.k, kv.v));
  }

  attendGrouped(layer: number, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
    const hd = q.shape[1] / heads;
    const kvHeads = k.shape[1] / hd;
    const kv = this.append(layer, toHeads(k, batch, kvHeads, hd), toHeads(v, batch, kvHeads, hd));
    const qh = toHeads(q, batch, heads, hd);
    const kr = repeatKv(kv.k, heads / kvHeads);
    const vr = repeatKv(kv.v, heads / kvHeads);
    return mergeHeads(keyMask ? causalAttentionMasked(qh, kr, vr, keyMask) : causalAttention(qh, kr, vr));
  }

  /** Append keys and values [B, KVH, T, hd]; returns the layer's whole cache [B, H, S + T, hd] (owned by the cache). */
  private append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
    const oldK = this.ks[layer];
    const oldV = this.vs[layer];
    // tf.keep: the cache outlives the tidy scope of the forward pass that fills it.
    const newK = tf.keep(oldK ? tf.concat([oldK, k], 2) : k.clone());
    const newV = tf.keep(oldV ? tf.concat([oldV, v], 2) : v.clone());
    oldK?.dispose();
    oldV?.dispose();
    this.ks[layer] = newK;
    this.vs[layer] = newV;
    return { k: newK, v: newV };
  }

  selectRows(rows: number[]): void {
    const idx = tf.tensor1d(rows, 'int32');
    for (let l = 0; l < this.nLayer; l++) {
      const [k, v] = [this.ks[l], this.vs[l]];
      if (k) this.ks[l] = tf.keep(tf.gather(k, idx, 0));
      if (v) this.vs[l] = tf.keep(tf.gather(v, idx, 0));
      k?.dispose();
      v?.dispose();
    }
    idx.dispose();
  }

  dispose(): void {
    for (const t of [...this.ks, ...this.vs]) t?.dispose();
    this.ks.fill(undefined);
    this.vs.fill(undefined);
  }
}

/** The fast engine's cache (ops.hasCachedAttention()): one kernel per layer and step, no copies. */
export class StoreKVCache implements KVCache {
  private readonly store: KVStore;

  /**
   * kvHeads key/value heads of headSize per layer. queryHeads (default kvHeads) sizes the
   * decoding scratch up front for attendGrouped's queries; the store grows it when asked for more.
   */
  constructor(nLayer: number, kvHeads: number, headSize: number, maxLength: number, queryHeads = kvHeads) {
    this.store = new KVStore(nLayer, kvHeads, headSize, maxLength, queryHeads);
  }

  get length(): number {
    return this.store.length;
  }

  attend(layer: number, qkv: tf.Tensor2D, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
    return cachedSelfAttention(qkv, this.store, layer, batch, heads, keyMask);
  }

  attendGrouped(layer: number, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, heads: number, keyMask?: tf.Tensor2D): tf.Tensor2D {
    return cachedGroupedAttention(q, k, v, this.store, layer, batch, heads, keyMask);
  }

  selectRows(rows: number[]): void {
    this.store.selectRows(rows);
  }

  dispose(): void {
    this.store.dispose();
  }
}
