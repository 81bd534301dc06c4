/**
 * The engine's WebAssembly SIMD loops (4 float32 lanes per instruction), for the passes whose
 * cost is transcendental math rather than memory traffic: GELU's logistic, the softmax of
 * attention and the log-sum-exp of cross-entropy. V8 compiles them to SSE/AVX code; JavaScript
 * numbers are scalar doubles, so the same loops in JS run ~5–10× slower.
 *
 * exp(z) in f32x4: n = round(z·log2 e), g = z − n·ln2 (ln2 split in a short exactly-representable
 * head and a tail, so g is exact to rounding), e^g by its degree-7 Taylor polynomial on
 * |g| ≤ ln2/2 (truncation < 6e-9 relative), times 2^n built in the exponent bits. Inputs are
 * clamped to [-87.3, 88.3] (the float32 range) and results for z < -87.3 are exactly 0.
 *
 * All pointers are byte offsets into the module's memory, 16-byte aligned unless stated.
 */
import { buildModule, Code, F32, I32, V128 } from './wasm-asm.js';

const LOG2E = 1.4426950408889634;
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const TAYLOR = [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040];
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/** v128 locals holding splatted constants, set once at function entry. */
class Consts {
  private readonly map = new Map<number, number>();
  constructor(private readonly c: Code) {}
  get(v: number): number {
    let l = this.map.get(v);
    if (l === undefined) {
      l = this.c.local(V128);
      this.c.f32(v).f32x4Splat().set(l);
      this.map.set(v, l);
    }
    return l;
  }
}

/** Emit out = exp(z) for v128 locals (z is not modified). */
function emitExp(c: Code, k: Consts, z: number, out: number, t: { n: number; g: number }): void {
  const lo = k.get(-87.3);
  const hi = k.get(88.3);
  // n = nearest(clamp(z) · log2 e)
  c.get(z).get(hi).f32x4Min().get(lo).f32x4Max().set(t.g);
  c.get(t.g).get(k.get(LOG2E)).f32x4Mul().f32x4Nearest().set(t.n);
  // g = zc − n·ln2_hi − n·ln2_lo
  c.get(t.g).get(t.n).get(k.get(LN2_HI)).f32x4Mul().f32x4Sub();
  c.get(t.n).get(k.get(LN2_LO)).f32x4Mul().f32x4Sub().set(t.g);
  // Horner: p = (((c7 g + c6) g + c5) ... ) g + c0
  c.get(k.get(TAYLOR[7]));
  for (let d = 6; d >= 0; d--) c.get(t.g).f32x4Mul().get(k.get(TAYLOR[d])).f32x4Add();
  // × 2^n: n + 127 + 2^23 is a float whose low mantissa bits are the integer n + 127; shifting
  // its bits left by 23 moves them into the exponent field and drops the rest.
  c.get(t.n).get(k.get(8388608 + 127)).f32x4Add().i32(23).i32x4Shl().f32x4Mul().set(out);
  // Exact 0 below the float32 range: bitselect(0, out, z < lo)
  c.f32(0).f32x4Splat().get(out).get(z).get(lo).f32x4Lt().v128Bitselect().set(out);
}

/** Horizontal reduction of a v128 local to an f32 on the stack (max or add). */
function emitHorizontal(c: Code, v: number, op: 'max' | 'add'): void {
  c.get(v).f32x4ExtractLane(0).get(v).f32x4ExtractLane(1);
  op === 'max' ? c.f32Max() : c.f32Add();
  c.get(v).f32x4ExtractLane(2);
  op === 'max' ? c.f32Max() : c.f32Add();
  c.get(v).f32x4ExtractLane(3);
  op === 'max' ? c.f32Max() : c.f32Add();
}

/**
 * gelu(x, y, s, n): for n floats (n % 4 == 0): s = sigmoid(2c(x + k x³)), y = x·s.
 */
function gelu(): Code {
  const [x, y, s, n] = [0, 1, 2, 3];
  const c = new Code([I32, I32, I32, I32]);
  const i = c.local(I32);
  const end = c.local(I32);
  const v = c.local(V128);
  const z = c.local(V128);
  const e = c.local(V128);
  const t = { n: c.local(V128), g: c.local(V128) };
  const k = new Consts(c);
  const one = k.get(1);
  c.get(n).i32(2).i32Shl().set(end);
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(end).i32GeS().brIf(1);
  c.get(x).get(i).i32Add().v128Load().set(v);
  // z = −2c · v · (1 + k v²)
  c.get(v).get(v).f32x4Mul().get(k.get(GELU_K)).f32x4Mul().get(one).f32x4Add().get(v).f32x4Mul().get(k.get(-2 * GELU_C)).f32x4Mul().set(z);
  emitExp(c, k, z, e, t);
  // s = 1 / (1 + e)
  c.get(s).get(i).i32Add().get(one).get(one).get(e).f32x4Add().f32x4Div().tee(e).v128Store();
  c.get(y).get(i).i32Add().get(v).get(e).f32x4Mul().v128Store();
  c.get(i).i32(16).i32Add().set(i);
  c.br(0).end().end();
  return c;
}

/**
 * softmaxRows(p, rows, ld, lim0): in place over `rows` rows of stride `ld` floats (ld % 4 == 0);
 * row r keeps its first lim0 + r entries (the keys its query may see), normalised, and is zero
 * after them. Rows need not be 16-byte aligned. A row whose visible entries are all −∞ yields NaN
 * (the caller handles those).
 */
function softmaxRows(): Code {
  const [p, rows, ld, lim0] = [0, 1, 2, 3];
  const c = new Code([I32, I32, I32, I32]);
  const r = c.local(I32);
  const row = c.local(I32);
  const lim = c.local(I32);
  const c4 = c.local(I32);
  const j = c.local(I32);
  const acc = c.local(V128);
  const v = c.local(V128);
  const e = c.local(V128);
  const mv = c.local(V128);
  const t = { n: c.local(V128), g: c.local(V128) };
  const k = new Consts(c);
  const negInf = k.get(-Infinity);
  c.i32(0).set(r);
  c.block().loop();
  c.get(r).get(rows).i32GeS().brIf(1);
  // row = p + r·ld·4; lim = lim0 + r; c4 = (lim + 3) & ~3 (bytes below)
  c.get(p).get(r).get(ld).i32Mul().i32(2).i32Shl().i32Add().set(row);
  c.get(lim0).get(r).i32Add().tee(lim).i32(3).i32Add().i32(-4).i32And().i32(2).i32Shl().set(c4);
  // −∞ into [lim, c4) so whole vectors can be read
  c.get(lim).i32(2).i32Shl().set(j);
  c.block().loop();
  c.get(j).get(c4).i32GeS().brIf(1);
  c.get(row).get(j).i32Add().f32(-Infinity).f32Store();
  c.get(j).i32(4).i32Add().set(j).br(0);
  c.end().end();
  // max
  c.get(negInf).set(acc);
  c.i32(0).set(j);
  c.block().loop();
  c.get(j).get(c4).i32GeS().brIf(1);
  c.get(acc).get(row).get(j).i32Add().v128Load().f32x4Max().set(acc);
  c.get(j).i32(16).i32Add().set(j).br(0);
  c.end().end();
  emitHorizontal(c, acc, 'max');
  c.f32x4Splat().set(mv);
  // exp(x − max), sum
  c.f32(0).f32x4Splat().set(acc);
  c.i32(0).set(j);
  c.block().loop();
  c.get(j).get(c4).i32GeS().brIf(1);
  c.get(row).get(j).i32Add().v128Load().get(mv).f32x4Sub().set(v);
  emitExp(c, k, v, e, t);
  c.get(row).get(j).i32Add().get(e).v128Store();
  c.get(acc).get(e).f32x4Add().set(acc);
  c.get(j).i32(16).i32Add().set(j).br(0);
  c.end().end();
  // × 1/sum
  c.f32(1);
  emitHorizontal(c, acc, 'add');
  c.f32Div().f32x4Splat().set(mv);
  c.i32(0).set(j);
  c.block().loop();
  c.get(j).get(c4).i32GeS().brIf(1);
  c.get(row).get(j).i32Add().get(row).get(j).i32Add().v128Load().get(mv).f32x4Mul().v128Store();
  c.get(j).i32(16).i32Add().set(j).br(0);
  c.end().end();
  // zero the rest of the row
  c.block().loop();
  c.get(j).get(ld).i32(2).i32Shl().i32GeS().brIf(1);
  c.get(row).get(j).i32Add().f32(0).f32x4Splat().v128Store();
  c.get(j).i32(16).i32Add().set(j).br(0);
  c.end().end();
  c.get(r).i32(1).i32Add().set(r).br(0);
  c.end().end();
  return c;
}

/**
 * maxSumExp(z, rows, ld, stats): per row of `ld` floats (ld % 4 == 0, padding −∞):
 * stats[2r] = max, stats[2r+1] = Σ exp(z − max).
 */
function maxSumExp(): Code {
  const [z, rows, ld, stats] = [0, 1, 2, 3];
  const c = new Code([I32, I32, I32, I32]);
  const r = c.local(I32);
  const row = c.local(I32);
  const j = c.local(I32);
  const end = c.local(I32);
  const acc = c.local(V128);
  const v = c.local(V128);
  const e = c.local(V128);
  const mv = c.local(V128);
  const mx = c.local(F32);
  const t = { n: c.local(V128), g: c.local(V128) };
  const k = new Consts(c);
  c.get(ld).i32(2).i32Shl().set(end);
  c.i32(0).set(r);
  c.block().loop();
  c.get(r).get(rows).i32GeS().brIf(1);
  c.get(z).get(r).get(end).i32Mul().i32Add().set(row);
  c.get(k.get(-Infinity)).set(acc);
  c.i32(0).set(j);
  c.block().loop();
  c.get(j).get(end).i32GeS().brIf(1);
  c.get(acc).get(row).get(j).i32Add().v128Load().f32x4Max().set(acc);
  c.get(j).i32(16).i32Add().set(j).br(0);
  c.end().end();
  emitHorizontal(c, acc, 'max');
  c.tee(mx).f32x4Splat().set(mv);
  c.f32(0).f32x4Splat().set(acc);
  c.i32(0).set(j);
  c.block().loop();
  c.get(j).get(end).i32GeS().brIf(1);
  c.get(row).get(j).i32Add().v128Load().get(mv).f32x4Sub().set(v);
  emitExp(c, k, v, e, t);
  c.get(acc).get(e).f32x4Add().set(acc);
  c.get(j).i32(16).i32Add().set(j).br(0);
  c.end().end();
  c.get(stats).get(r).i32(3).i32Shl().i32Add().get(mx).f32Store();
  c.get(stats).get(r).i32(3).i32Shl().i32Add();
  emitHorizontal(c, acc, 'add');
  c.f32Store(4);
  c.get(r).i32(1).i32Add().set(r).br(0);
  c.end().end();
  return c;
}

/**
 * scaledSoftmax(z, rows, ld, lse, coef): in place, z[r, j] = coef[r] · exp(z[r, j] − lse[r])
 * (lse and coef: float arrays of `rows`).
 */
function scaledSoftmax(): Code {
  const [z, rows, ld, lse, coef] = [0, 1, 2, 3, 4];
  const c = new Code([I32, I32, I32, I32, I32]);
  const r = c.local(I32);
  const row = c.local(I32);
  const j = c.local(I32);
  const end = c.local(I32);
  const v = c.local(V128);
  const e = c.local(V128);
  const lv = c.local(V128);
  const cv = c.local(V128);
  const t = { n: c.local(V128), g: c.local(V128) };
  const k = new Consts(c);
  c.get(ld).i32(2).i32Shl().set(end);
  c.i32(0).set(r);
  c.block().loop();
  c.get(r).get(rows).i32GeS().brIf(1);
  c.get(z).get(r).get(end).i32Mul().i32Add().set(row);
  c.get(lse).get(r).i32(2).i32Shl().i32Add().f32Load().f32x4Splat().set(lv);
  c.get(coef).get(r).i32(2).i32Shl().i32Add().f32Load().f32x4Splat().set(cv);
  c.i32(0).set(j);
  c.block().loop();
  c.get(j).get(end).i32GeS().brIf(1);
  c.get(row).get(j).i32Add().v128Load().get(lv).f32x4Sub().set(v);
  emitExp(c, k, v, e, t);
  c.get(row).get(j).i32Add().get(e).get(cv).f32x4Mul().v128Store();
  c.get(j).i32(16).i32Add().set(j).br(0);
  c.end().end();
  c.get(r).i32(1).i32Add().set(r).br(0);
  c.end().end();
  return c;
}

/** expInPlace(p, n): p[i] = exp(p[i]) for n floats (n % 4 == 0); for tests of the exp itself. */
function expInPlace(): Code {
  const [p, n] = [0, 1];
  const c = new Code([I32, I32]);
  const i = c.local(I32);
  const end = c.local(I32);
  const v = c.local(V128);
  const e = c.local(V128);
  const t = { n: c.local(V128), g: c.local(V128) };
  const k = new Consts(c);
  c.get(n).i32(2).i32Shl().set(end);
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(end).i32GeS().brIf(1);
  c.get(p).get(i).i32Add().v128Load().set(v);
  emitExp(c, k, v, e, t);
  c.get(p).get(i).i32Add().get(e).v128Store();
  c.get(i).i32(16).i32Add().set(i).br(0);
  c.end().end();
  return c;
}

export function simdModuleBytes(): Uint8Array<ArrayBuffer> {
  return buildModule({ gelu: gelu(), softmaxRows: softmaxRows(), maxSumExp: maxSumExp(), scaledSoftmax: scaledSoftmax(), expInPlace: expInPlace() }, 16);
}
