/**
 * Recycling of the fast engine's float32 output buffers.
 *
 * A fresh Float32Array of a few MB costs more than the kernel that fills it: the memory comes
 * from the OS zeroed, one page fault per 4 KB on first write (measured here: 0.6 ms to add two
 * fresh 1 MB arrays, 0.26 ms into a reused one). A training step allocates the same sizes every
 * step, so released buffers are reused (by capacity class, see capacityFor).
 *
 * Safety: a buffer is reused only when no tensor data can still refer to it. The backend's
 * write/move/disposeData are hooked to count, per ArrayBuffer, the live data entries holding it
 * (views made by slices count too); a buffer returns to the pool when the count reaches zero.
 * A buffer that ever left the backend through readSync/read (dataSync(), data(), moving to
 * another backend) is never reused, since user code may still hold that array.
 */

/**
 * Pool arrays at least this long. Small ones are not free either: every Float32Array beyond V8's
 * on-heap limit (64 bytes) gets an external backing store and a finaliser, so a fresh [8, 256]
 * output cost more than the add that fills it (measured: 18 µs per tf.add of [8, 256] with
 * arrays below 4,096 elements unpooled, 8.7 µs pooled). Decoding and the optimizer's ops on LoRA
 * factors are made of such small tensors.
 */
const MIN_POOLED = 64;

/**
 * Buffers come in capacities of 32 steps per octave (≤ 3% unused), so sizes that creep up (the
 * KV cache grows one position per generated token) keep hitting the same pooled buffers; a
 * request gets a view of its exact length.
 */
export function capacityFor(n: number): number {
  const step = 2 ** Math.max(0, Math.floor(Math.log2(n)) - 5);
  return Math.ceil(n / step) * step;
}
/**
 * A size not requested within this many allocations is stale: its free buffers are dropped.
 * (Generation grows the KV cache by one position per step, so its old sizes never recur.)
 */
const STALE_AFTER = 4096;

export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly holders = new WeakMap<ArrayBufferLike, number>();
  private readonly owned = new WeakSet<ArrayBufferLike>();
  private readonly exposed = new WeakSet<ArrayBufferLike>();
  /** Allocation tick at which each size was last requested. */
  private readonly lastRequest = new Map<number, number>();
  private tick = 0;
  private pooledBytes = 0;
  hits = 0;
  misses = 0;

  /**
   * The cap only guards against pathological growth: the pool holds what a step released, and
   * a step reuses all of it, so a cap below the working set (measured: 256 MB is below an
   * 8-layer d256 step's) turns every step's allocations back into page faults.
   */
  constructor(private readonly maxPooledBytes = 2048 * 1024 * 1024) {}

  /** A float32 array of length n with arbitrary contents (the caller writes every element). */
  alloc(n: number): Float32Array {
    if (n < MIN_POOLED) return new Float32Array(n);
    const cap = capacityFor(n);
    this.lastRequest.set(cap, ++this.tick);
    if ((this.tick & 1023) === 0) this.dropStale();
    let a = this.free.get(cap)?.pop() ?? this.larger(cap);
    if (a) {
      this.pooledBytes -= a.byteLength;
      this.hits++;
    } else {
      this.misses++;
      a = new Float32Array(cap);
      this.owned.add(a.buffer);
    }
    return a.length === n ? a : a.subarray(0, n);
  }

  /**
   * A free buffer of up to twice the capacity asked for, smallest first: when the sizes change
   * (generation after training, evaluation between rounds) the memory the last phase released
   * serves the next one instead of the process growing by a second working set.
   */
  private larger(cap: number): Float32Array | undefined {
    let best = 0;
    for (const [c, list] of this.free) if (c > cap && c <= 2 * cap && list.length > 0 && (best === 0 || c < best)) best = c;
    return best ? this.free.get(best)!.pop() : undefined;
  }

  /** A zero-filled float32 array of length n. */
  zeros(n: number): Float32Array {
    const a = this.alloc(n);
    if (n >= MIN_POOLED) a.fill(0);
    return a;
  }

  /** A data entry now holds `values`. */
  hold(values: unknown): void {
    const buf = bufferOf(values);
    if (buf && this.owned.has(buf)) this.holders.set(buf, (this.holders.get(buf) ?? 0) + 1);
  }

  /** A data entry holding `values` was deleted. */
  release(values: unknown): void {
    const buf = bufferOf(values);
    if (!buf || !this.owned.has(buf)) return;
    const n = (this.holders.get(buf) ?? 1) - 1;
    if (n > 0) {
      this.holders.set(buf, n);
      return;
    }
    this.holders.delete(buf);
    const cap = buf.byteLength / 4;
    if (this.exposed.has(buf) || this.pooledBytes + buf.byteLength > this.maxPooledBytes || this.tick - (this.lastRequest.get(cap) ?? 0) > STALE_AFTER) {
      this.owned.delete(buf);
      return;
    }
    const whole = new Float32Array(buf);
    let list = this.free.get(whole.length);
    if (!list) this.free.set(whole.length, (list = []));
    list.push(whole);
    this.pooledBytes += buf.byteLength;
  }

  /**
   * `values` is being handed out of the backend (dataSync(), data()): a partial view of a pooled
   * buffer is copied (the caller gets an array of exactly its length, the buffer stays
   * reusable); a whole pooled buffer is handed out and never reused.
   */
  expose<T>(values: T): T {
    const buf = bufferOf(values);
    if (!buf || !this.owned.has(buf)) return values;
    const v = values as unknown as Float32Array;
    if (v.byteLength !== buf.byteLength) return v.slice() as unknown as T;
    this.exposed.add(buf);
    return values;
  }

  private dropStale(): void {
    for (const [n, list] of this.free) {
      if (this.tick - (this.lastRequest.get(n) ?? 0) <= STALE_AFTER) continue;
      this.pooledBytes -= list.length * n * 4;
      this.free.delete(n);
    }
    for (const [n, t] of this.lastRequest) if (this.tick - t > STALE_AFTER && !this.free.has(n)) this.lastRequest.delete(n);
  }

  /** Drop every pooled buffer (memory goes back to the garbage collector). */
  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }

  get bytes(): number {
    return this.pooledBytes;
  }
}

function bufferOf(values: unknown): ArrayBufferLike | undefined {
  return values instanceof Float32Array ? values.buffer : undefined;
}

interface HookableBackend {
  data: { has(dataId: object): boolean; get(dataId: object): { values?: unknown } | undefined };
  write(values: unknown, shape: number[], dtype: string): object;
  move(dataId: object, values: unknown, shape: number[], dtype: string, refCount: number): void;
  disposeData(dataId: object, force?: boolean): boolean;
  readSync(dataId: object): unknown;
  read(dataId: object): Promise<unknown>;
}

/** Hook a MathBackendCPU instance's data lifecycle to `pool` (instance methods, not the class). */
export function attachPool(backend: object, pool: BufferPool): void {
  const b = backend as HookableBackend;
  const write = b.write.bind(b);
  const move = b.move.bind(b);
  const disposeData = b.disposeData.bind(b);
  const readSync = b.readSync.bind(b);
  b.write = (values, shape, dtype) => {
    pool.hold(values);
    return write(values, shape, dtype);
  };
  b.move = (dataId, values, shape, dtype, refCount) => {
    pool.hold(values);
    move(dataId, values, shape, dtype, refCount);
  };
  b.disposeData = (dataId, force) => {
    const values = b.data.has(dataId) ? b.data.get(dataId)?.values : undefined;
    const r = disposeData(dataId, force);
    if (values !== undefined && !b.data.has(dataId)) pool.release(values);
    return r;
  };
  b.readSync = (dataId) => pool.expose(readSync(dataId));
  b.read = async (dataId) => b.readSync(dataId);
  (backend as { pool?: BufferPool }).pool = pool;
}

/** The pool of a backend, if it has one. */
export function poolOf(backend: object): BufferPool | undefined {
  return (backend as { pool?: BufferPool }).pool;
}
