/**
 * The fast engine's decoding cache storage: per layer, keys and values [B, H, cap, hd] (H the
 * key/value heads: with grouped-query attention fewer than the query heads) in
 * preallocated arrays that the cached-attention kernel writes each step's keys and values into
 * (tfjs tensors are immutable, so a tensor cache must copy all of it every step: O(S²) per
 * sequence). Capacity doubles when full (up to the model's n_positions); filled: 0 .. length-1.
 *
 * With WebAssembly SIMD the arrays live in the memory of a module instance of the store's own
 * (`simd`), behind a scratch region for one decoding step's queries, scores and outputs, so the
 * attention loops read the cache where it is instead of copying all of it into module memory
 * every step. Without SIMD they are plain arrays.
 */
import { newSimdInstance, type SimdRuntime } from './simd/runtime.js';

/** Queries per step up to which the decoding kernel uses the in-place SIMD loops. */
export const DECODE_MAX_T = 4;

export class KVStore {
  private static readonly live = new Map<number, KVStore>();
  private static nextId = 1;

  /** The store a kernel names by id (kernel attributes are numbers). */
  static get(id: number): KVStore {
    const s = KVStore.live.get(id);
    if (!s) throw new Error(`KVStore ${id}: no such cache (disposed?)`);
    return s;
  }

  readonly id = KVStore.nextId++;
  /** Per layer, views of the keys and values (valid until the next reserve or selectRows). */
  k: Float32Array[] = [];
  v: Float32Array[] = [];
  /** Batch rows, positions stored, positions allocated. */
  B = 0;
  length = 0;
  cap = 0;
  /** The instance whose memory holds k and v (undefined without SIMD). */
  readonly simd: SimdRuntime | undefined;
  /** Floats at the start of `simd`'s memory for one step's queries, scores and outputs. */
  scratchFloats = 0;

  /**
   * Instances of disposed stores, for the next store: their memory is already grown and paged in
   * (a fresh one costs page faults on megabytes of cache at every generate call). Module memory
   * never shrinks, so only instances up to SPARE_MAX_BYTES are kept: a large model's cache is
   * given back to the garbage collector.
   */
  private static readonly spare: SimdRuntime[] = [];
  static readonly SPARE_MAX_BYTES = 64 * 2 ** 20;

  /**
   * H key/value heads of hd. queryHeads only sizes the scratch for a decoding step's queries
   * (grouped-query attention has more query heads than kv heads); useQueryHeads grows it.
   */
  constructor(readonly nLayer: number, readonly H: number, readonly hd: number, readonly maxLength: number, public queryHeads = H) {
    this.simd = KVStore.spare.pop() ?? newSimdInstance();
    KVStore.live.set(this.id, this);
  }

  /** Make room for T more positions of `B` rows (called by the first layer of each step). */
  reserve(B: number, T: number): void {
    if (this.length === 0) this.B = B;
    else if (B !== this.B) throw new Error(`KVStore: batch ${B} does not match the cache's ${this.B} rows`);
    const need = this.length + T;
    if (need <= this.cap && this.k.length > 0) return;
    // Room to decode as many positions again as the prompt (or double): few regrowths.
    const cap = Math.max(need, Math.min(this.maxLength, Math.max(64, 2 * this.cap, 2 * need)));
    this.relayout(this.B, cap, (r) => r);
  }

  /** Make the decoding scratch hold the queries of `heads` query heads. */
  useQueryHeads(heads: number): void {
    if (heads <= this.queryHeads) return;
    this.queryHeads = heads;
    if (this.k.length > 0) this.relayout(this.B, this.cap, (r) => r);
  }

  /** Keep only these batch rows, in this order. */
  selectRows(rows: number[]): void {
    this.relayout(rows.length, this.cap, (j) => rows[j]);
  }

  /** Scratch floats one decoding step needs: queries and outputs (B·H·T·hd each) and scores. */
  private scratchFor(B: number, cap: number): number {
    const rows = B * Math.max(this.H, this.queryHeads) * DECODE_MAX_T;
    return rows * (2 * this.hd + ((Math.max(cap, this.maxLength) + 3) & ~3));
  }

  /**
   * New arrays for B rows of `cap` positions; row j takes the filled positions of old row from(j).
   * The old contents are copied out first: in module memory the new layout overlaps the old.
   */
  private relayout(B: number, cap: number, from: (j: number) => number): void {
    const len = this.length * this.hd;
    const oldBlock = this.cap * this.hd;
    const keep = (a: Float32Array) => {
      const saved = new Float32Array(B * this.H * len);
      for (let j = 0; j < B; j++) {
        for (let h = 0; h < this.H; h++) {
          const src = (from(j) * this.H + h) * oldBlock;
          saved.set(a.subarray(src, src + len), (j * this.H + h) * len);
        }
      }
      return saved;
    };
    const savedK = this.k.map(keep);
    const savedV = this.v.map(keep);
    const n = B * this.H * cap * this.hd;
    if (this.simd) {
      this.scratchFloats = this.scratchFor(B, cap);
      const heap = this.simd.reserve(this.scratchFloats + 2 * this.nLayer * n);
      const at = (i: number) => this.scratchFloats + i * n;
      this.k = Array.from({ length: this.nLayer }, (_, l) => heap.subarray(at(2 * l), at(2 * l) + n));
      this.v = Array.from({ length: this.nLayer }, (_, l) => heap.subarray(at(2 * l + 1), at(2 * l + 1) + n));
    } else {
      this.k = Array.from({ length: this.nLayer }, () => new Float32Array(n));
      this.v = Array.from({ length: this.nLayer }, () => new Float32Array(n));
    }
    const block = cap * this.hd;
    const put = (saved: Float32Array, a: Float32Array) => {
      for (let r = 0; r < B * this.H; r++) a.set(saved.subarray(r * len, (r + 1) * len), r * block);
    };
    savedK.forEach((s, l) => put(s, this.k[l]));
    savedV.forEach((s, l) => put(s, this.v[l]));
    this.B = B;
    this.cap = cap;
  }

  /** Float offset of a view of this store's module memory (for the SIMD loops' pointers). */
  offsetOf(a: Float32Array): number {
    return a.byteOffset / 4;
  }

  dispose(): void {
    if (!KVStore.live.delete(this.id)) return;
    this.k = [];
    this.v = [];
    if (this.simd && KVStore.spare.length < 2 && this.simd.heap.byteLength <= KVStore.SPARE_MAX_BYTES) KVStore.spare.push(this.simd);
  }
}
