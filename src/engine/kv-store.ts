/**
 * The fast engine's decoding cache storage: per layer, keys and values [B, H, cap, hd] in plain
 * preallocated arrays that the cached-attention kernel writes each step's keys and values into
 * (tfjs tensors are immutable, so a tensor cache must copy all of it every step: O(S²) per
 * sequence). Capacity doubles when full (up to the model's n_positions); filled: 0 .. length-1.
 */
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
  k: Float32Array[] = [];
  v: Float32Array[] = [];
  /** Batch rows, positions stored, positions allocated. */
  B = 0;
  length = 0;
  cap = 0;

  constructor(readonly nLayer: number, readonly H: number, readonly hd: number, readonly maxLength: number) {
    KVStore.live.set(this.id, this);
  }

  /** Make room for T more positions of `B` rows (called by the first layer of each step). */
  reserve(B: number, T: number): void {
    if (this.length === 0) this.B = B;
    else if (B !== this.B) throw new Error(`KVStore: batch ${B} does not match the cache's ${this.B} rows`);
    const need = this.length + T;
    if (need <= this.cap && this.k.length > 0) return;
    const cap = Math.max(need, Math.min(this.maxLength, Math.max(64, 2 * this.cap)));
    this.k = this.k.length ? this.k.map((a) => this.regrow(a, cap)) : this.fresh(cap);
    this.v = this.v.length ? this.v.map((a) => this.regrow(a, cap)) : this.fresh(cap);
    this.cap = cap;
  }

  private fresh(cap: number): Float32Array[] {
    return Array.from({ length: this.nLayer }, () => new Float32Array(this.B * this.H * cap * this.hd));
  }

  private regrow(a: Float32Array, cap: number): Float32Array {
    const n = new Float32Array(this.B * this.H * cap * this.hd);
    const len = this.length * this.hd;
    for (let bh = 0; bh < this.B * this.H; bh++) n.set(a.subarray(bh * this.cap * this.hd, bh * this.cap * this.hd + len), bh * cap * this.hd);
    return n;
  }

  /** Keep only these batch rows, in this order. */
  selectRows(rows: number[]): void {
    const block = this.H * this.cap * this.hd;
    const pick = (a: Float32Array) => {
      const n = new Float32Array(rows.length * block);
      rows.forEach((r, j) => n.set(a.subarray(r * block, (r + 1) * block), j * block));
      return n;
    };
    this.k = this.k.map(pick);
    this.v = this.v.map(pick);
    this.B = rows.length;
  }

  dispose(): void {
    this.k = [];
    this.v = [];
    KVStore.live.delete(this.id);
  }
}
