/**
 * Keys and values of the positions already processed, per layer, for incremental decoding.
 *
 * Kept behind a small interface so the storage can change (tfjs cannot update a buffer in place,
 * so this implementation concatenates: each step copies each layer's K and V once).
 */
import * as tf from '@tensorflow/tfjs';

export interface KVCache {
  /** Positions stored so far (the key length S before the next forward). */
  readonly length: number;
  /**
   * Append this step's keys and values [B, H, T, hd] for `layer` and return the whole cache for
   * that layer [B, H, S + T, hd]. The returned tensors belong to the cache: don't dispose them.
   * `length` grows once the last layer has appended.
   */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D };
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

  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
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
