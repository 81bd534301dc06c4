/**
 * The engine's WebAssembly SIMD loops (4 float32 lanes per instruction), for the passes whose
 * cost is transcendental math rather than memory traffic: GELU's logistic, the softmax of
 * attention and the log-sum-exp of cross-entropy. V8 compiles them to SSE/AVX code; JavaScript
 * numbers are scalar doubles, so the same loops in JS run ~5–10× slower.
 *
 * exp(z) in f32x4: n = round(z·log2 e), g = z − n·ln2 (ln2 split in a short exactly-representable
 * head and a tail, so g is exact to rounding), e^g by its degree-7 Taylor polynomial on
 * |g| ≤ ln2/2 (Chebyshev interpolant, degree 6), times 2^n built in the exponent bits. Inputs
 * are clamped to [-87.3, 88.3] (the float32 range); where it matters (softmax, log-sum-exp)
 * results for z < -87.3 are exactly 0.
 *
 * All pointers are byte offsets into the module's memory, 16-byte aligned unless stated.
 */
import { buildModule, Code, F32, I32, V128 } from './wasm-asm.js';

const LOG2E = 1.4426950408889634;
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
/**
 * e^g on |g| ≤ ln2/2: the degree-6 polynomial interpolating e^g at the Chebyshev nodes of that
 * interval (relative error 2.5e-9 in exact arithmetic, ~1e-7 evaluated in float32 — as good as the
 * degree-7 Taylor series, one multiply-add shorter).
 */
const EXP_POLY = [1.0000000000000004, 1.0000000377162113, 0.5000000047117691, 0.16666415514662325, 0.04166635289703105, 0.008375126397380547, 0.001394110841601248];
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

/** Emit out = exp(z) for v128 locals (z is not modified); exactZero: 0 below −87.3, not ~1e-38. */
function emitExp(c: Code, k: Consts, z: number, out: number, t: { n: number; g: number }, exactZero = true): void {
  const lo = k.get(-87.3);
  const hi = k.get(88.3);
  // n = nearest(clamp(z) · log2 e)
  c.get(z).get(hi).f32x4Pmin().get(lo).f32x4Pmax().set(t.g);
  c.get(t.g).get(k.get(LOG2E)).f32x4Mul().f32x4Nearest().set(t.n);
  // g = zc − n·ln2_hi − n·ln2_lo
  c.get(t.g).get(t.n).get(k.get(LN2_HI)).f32x4Mul().f32x4Sub();
  c.get(t.n).get(k.get(LN2_LO)).f32x4Mul().f32x4Sub().set(t.g);
  // Horner: p = (((c7 g + c6) g + c5) ... ) g + c0
  c.get(k.get(EXP_POLY[EXP_POLY.length - 1]));
  for (let d = EXP_POLY.length - 2; d >= 0; d--) c.get(t.g).f32x4Mul().get(k.get(EXP_POLY[d])).f32x4Add();
  // × 2^n: n + 127 + 2^23 is a float whose low mantissa bits are the integer n + 127; shifting
  // its bits left by 23 moves them into the exponent field and drops the rest.
  c.get(t.n).get(k.get(8388608 + 127)).f32x4Add().i32(23).i32x4Shl().f32x4Mul().set(out);
  // Exact 0 below the float32 range: bitselect(0, out, z < lo)
  if (exactZero) c.f32(0).f32x4Splat().get(out).get(z).get(lo).f32x4Lt().v128Bitselect().set(out);
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
  emitExp(c, k, z, e, t, false);
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
  c.get(acc).get(row).get(j).i32Add().v128Load().f32x4Pmax().set(acc);
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
  c.get(acc).get(row).get(j).i32Add().v128Load().f32x4Pmax().set(acc);
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

/**
 * A loop over row elements [0, n) of `rowPtr` (byte pointer local): `vec(jBytes)` emits the
 * body for 4 elements at byte offset j, `scalar(jBytes)` the body for one element of the tail.
 */
function emitRowLoop(c: Code, j: number, nBytes: number, n4Bytes: number, vec: () => void, scalar: () => void): void {
  c.i32(0).set(j);
  c.block().loop();
  c.get(j).get(n4Bytes).i32GeS().brIf(1);
  vec();
  c.get(j).i32(16).i32Add().set(j).br(0);
  c.end().end();
  c.block().loop();
  c.get(j).get(nBytes).i32GeS().brIf(1);
  scalar();
  c.get(j).i32(4).i32Add().set(j).br(0);
  c.end().end();
}

/**
 * The loop over `rows` packed rows of D floats that the row kernels share: `body` emits one row
 * with r (the row), off (its byte offset), j (a byte cursor for emitRowLoop), nB = 4·D and
 * n4B = 4·(D rounded down to a multiple of 4).
 */
function emitRows(c: Code, rows: number, D: number, body: (l: { r: number; off: number; j: number; nB: number; n4B: number }) => void): void {
  const r = c.local(I32);
  const off = c.local(I32);
  const j = c.local(I32);
  const nB = c.local(I32);
  const n4B = c.local(I32);
  c.get(D).i32(2).i32Shl().set(nB);
  c.get(D).i32(-4).i32And().i32(2).i32Shl().set(n4B);
  c.i32(0).set(r);
  c.block().loop();
  c.get(r).get(rows).i32GeS().brIf(1);
  c.get(r).get(nB).i32Mul().set(off);
  body({ r, off, j, nB, n4B });
  c.get(r).i32(1).i32Add().set(r).br(0);
  c.end().end();
}

/**
 * layerNorm(x, y, rows, D, gamma, beta, eps, stats): per row of D floats (any D; rows packed):
 * y = (x − μ)·r·γ + β with r = 1/sqrt(var + eps); stats[2i] = μ, stats[2i+1] = r.
 */
function layerNorm(): Code {
  const [x, y, rows, D, gamma, beta, eps, stats] = [0, 1, 2, 3, 4, 5, 6, 7];
  const c = new Code([I32, I32, I32, I32, I32, I32, F32, I32]);
  const r = c.local(I32);
  const xr = c.local(I32);
  const yr = c.local(I32);
  const j = c.local(I32);
  const nB = c.local(I32);
  const n4B = c.local(I32);
  const acc = c.local(V128);
  const v = c.local(V128);
  const mv = c.local(V128);
  const rv = c.local(V128);
  const sum = c.local(F32);
  const mu = c.local(F32);
  const rs = c.local(F32);
  const d = c.local(F32);
  c.get(D).i32(2).i32Shl().set(nB);
  c.get(D).i32(-4).i32And().i32(2).i32Shl().set(n4B);
  c.i32(0).set(r);
  c.block().loop();
  c.get(r).get(rows).i32GeS().brIf(1);
  c.get(x).get(r).get(nB).i32Mul().i32Add().set(xr);
  c.get(y).get(r).get(nB).i32Mul().i32Add().set(yr);
  // μ
  c.f32(0).f32x4Splat().set(acc);
  c.f32(0).set(sum);
  emitRowLoop(c, j, nB, n4B,
    () => c.get(acc).get(xr).get(j).i32Add().v128Load().f32x4Add().set(acc),
    () => c.get(sum).get(xr).get(j).i32Add().f32Load().f32Add().set(sum));
  emitHorizontal(c, acc, 'add');
  c.get(sum).f32Add().get(D).f32ConvertI32S().f32Div().tee(mu).f32x4Splat().set(mv);
  // var = mean((x − μ)²)
  c.f32(0).f32x4Splat().set(acc);
  c.f32(0).set(sum);
  emitRowLoop(c, j, nB, n4B,
    () => c.get(acc).get(xr).get(j).i32Add().v128Load().get(mv).f32x4Sub().tee(v).get(v).f32x4Mul().f32x4Add().set(acc),
    () => c.get(xr).get(j).i32Add().f32Load().get(mu).f32Sub().tee(d).get(d).f32Mul().get(sum).f32Add().set(sum));
  c.f32(1);
  emitHorizontal(c, acc, 'add');
  c.get(sum).f32Add().get(D).f32ConvertI32S().f32Div().get(eps).f32Add().f32Sqrt().f32Div().tee(rs).f32x4Splat().set(rv);
  // y = (x − μ)·r·γ + β
  emitRowLoop(c, j, nB, n4B,
    () => c.get(yr).get(j).i32Add().get(xr).get(j).i32Add().v128Load().get(mv).f32x4Sub().get(rv).f32x4Mul()
      .get(gamma).get(j).i32Add().v128Load().f32x4Mul().get(beta).get(j).i32Add().v128Load().f32x4Add().v128Store(),
    () => c.get(yr).get(j).i32Add().get(xr).get(j).i32Add().f32Load().get(mu).f32Sub().get(rs).f32Mul()
      .get(gamma).get(j).i32Add().f32Load().f32Mul().get(beta).get(j).i32Add().f32Load().f32Add().f32Store());
  c.get(stats).get(r).i32(3).i32Shl().i32Add().get(mu).f32Store();
  c.get(stats).get(r).i32(3).i32Shl().i32Add().get(rs).f32Store(4);
  c.get(r).i32(1).i32Add().set(r).br(0);
  c.end().end();
  return c;
}

/**
 * layerNormGrad(dy, x, dx, rows, D, gamma, stats): dx = r·(g − mean(g) − x̂·mean(g·x̂)),
 * g = dy·γ, x̂ = (x − μ)·r, with μ, r from stats as layerNorm wrote them.
 */
function layerNormGrad(): Code {
  const [dy, x, dx, rows, D, gamma, stats] = [0, 1, 2, 3, 4, 5, 6];
  const c = new Code([I32, I32, I32, I32, I32, I32, I32]);
  const a1 = c.local(V128);
  const a2 = c.local(V128);
  const g = c.local(V128);
  const mv = c.local(V128);
  const rv = c.local(V128);
  const av = c.local(V128);
  const cv = c.local(V128);
  const s1 = c.local(F32);
  const s2 = c.local(F32);
  const gs = c.local(F32);
  const mu = c.local(F32);
  const rs = c.local(F32);
  const a = c.local(F32);
  const cc = c.local(F32);
  const xh = c.local(F32);
  emitRows(c, rows, D, ({ r, off, j, nB, n4B }) => {
    c.get(stats).get(r).i32(3).i32Shl().i32Add().f32Load().tee(mu).f32x4Splat().set(mv);
    c.get(stats).get(r).i32(3).i32Shl().i32Add().f32Load(4).tee(rs).f32x4Splat().set(rv);
    c.f32(0).f32x4Splat().tee(a1).set(a2);
    c.f32(0).tee(s1).set(s2);
    // Σ g, Σ g·x̂
    emitRowLoop(c, j, nB, n4B,
      () => {
        c.get(dy).get(off).i32Add().get(j).i32Add().v128Load().get(gamma).get(j).i32Add().v128Load().f32x4Mul().set(g);
        c.get(a1).get(g).f32x4Add().set(a1);
        c.get(a2).get(g).get(x).get(off).i32Add().get(j).i32Add().v128Load().get(mv).f32x4Sub().get(rv).f32x4Mul().f32x4Mul().f32x4Add().set(a2);
      },
      () => {
        c.get(dy).get(off).i32Add().get(j).i32Add().f32Load().get(gamma).get(j).i32Add().f32Load().f32Mul().set(gs);
        c.get(s1).get(gs).f32Add().set(s1);
        c.get(s2).get(gs).get(x).get(off).i32Add().get(j).i32Add().f32Load().get(mu).f32Sub().get(rs).f32Mul().f32Mul().f32Add().set(s2);
      });
    emitHorizontal(c, a1, 'add');
    c.get(s1).f32Add().get(D).f32ConvertI32S().f32Div().tee(a).f32x4Splat().set(av);
    emitHorizontal(c, a2, 'add');
    c.get(s2).f32Add().get(D).f32ConvertI32S().f32Div().tee(cc).f32x4Splat().set(cv);
    // dx = r·(g − a − x̂·c)
    emitRowLoop(c, j, nB, n4B,
      () => {
        c.get(dx).get(off).i32Add().get(j).i32Add();
        c.get(dy).get(off).i32Add().get(j).i32Add().v128Load().get(gamma).get(j).i32Add().v128Load().f32x4Mul().get(av).f32x4Sub();
        c.get(x).get(off).i32Add().get(j).i32Add().v128Load().get(mv).f32x4Sub().get(rv).f32x4Mul().get(cv).f32x4Mul().f32x4Sub();
        c.get(rv).f32x4Mul().v128Store();
      },
      () => {
        c.get(x).get(off).i32Add().get(j).i32Add().f32Load().get(mu).f32Sub().get(rs).f32Mul().set(xh);
        c.get(dx).get(off).i32Add().get(j).i32Add();
        c.get(dy).get(off).i32Add().get(j).i32Add().f32Load().get(gamma).get(j).i32Add().f32Load().f32Mul().get(a).f32Sub();
        c.get(xh).get(cc).f32Mul().f32Sub().get(rs).f32Mul().f32Store();
      });
  });
  return c;
}

/**
 * rmsNorm(x, y, rows, D, w, eps, stats): per row of D floats (any D; rows packed):
 * y = x·r·w with r = 1/sqrt(mean(x²) + eps); stats[i] = r.
 */
function rmsNorm(): Code {
  const [x, y, rows, D, w, eps, stats] = [0, 1, 2, 3, 4, 5, 6];
  const c = new Code([I32, I32, I32, I32, I32, F32, I32]);
  const acc = c.local(V128);
  const v = c.local(V128);
  const rv = c.local(V128);
  const sum = c.local(F32);
  const rs = c.local(F32);
  const d = c.local(F32);
  emitRows(c, rows, D, ({ r, off, j, nB, n4B }) => {
    // Σ x²
    c.f32(0).f32x4Splat().set(acc);
    c.f32(0).set(sum);
    emitRowLoop(c, j, nB, n4B,
      () => c.get(acc).get(x).get(off).i32Add().get(j).i32Add().v128Load().tee(v).get(v).f32x4Mul().f32x4Add().set(acc),
      () => c.get(x).get(off).i32Add().get(j).i32Add().f32Load().tee(d).get(d).f32Mul().get(sum).f32Add().set(sum));
    c.f32(1);
    emitHorizontal(c, acc, 'add');
    c.get(sum).f32Add().get(D).f32ConvertI32S().f32Div().get(eps).f32Add().f32Sqrt().f32Div().tee(rs).f32x4Splat().set(rv);
    // y = x·r·w
    emitRowLoop(c, j, nB, n4B,
      () => c.get(y).get(off).i32Add().get(j).i32Add().get(x).get(off).i32Add().get(j).i32Add().v128Load().get(rv).f32x4Mul()
        .get(w).get(j).i32Add().v128Load().f32x4Mul().v128Store(),
      () => c.get(y).get(off).i32Add().get(j).i32Add().get(x).get(off).i32Add().get(j).i32Add().f32Load().get(rs).f32Mul()
        .get(w).get(j).i32Add().f32Load().f32Mul().f32Store());
    c.get(stats).get(r).i32(2).i32Shl().i32Add().get(rs).f32Store();
  });
  return c;
}

/** rmsNormGrad(dy, x, dx, rows, D, w, stats): dx = r·(dy·w − x·r²·mean(dy·w·x)), r from stats as rmsNorm wrote it. */
function rmsNormGrad(): Code {
  const [dy, x, dx, rows, D, w, stats] = [0, 1, 2, 3, 4, 5, 6];
  const c = new Code([I32, I32, I32, I32, I32, I32, I32]);
  const acc = c.local(V128);
  const rv = c.local(V128);
  const cv = c.local(V128);
  const sum = c.local(F32);
  const rs = c.local(F32);
  const cc = c.local(F32);
  emitRows(c, rows, D, ({ r, off, j, nB, n4B }) => {
    c.get(stats).get(r).i32(2).i32Shl().i32Add().f32Load().tee(rs).f32x4Splat().set(rv);
    // Σ dy·w·x
    c.f32(0).f32x4Splat().set(acc);
    c.f32(0).set(sum);
    emitRowLoop(c, j, nB, n4B,
      () => c.get(acc).get(dy).get(off).i32Add().get(j).i32Add().v128Load().get(w).get(j).i32Add().v128Load().f32x4Mul()
        .get(x).get(off).i32Add().get(j).i32Add().v128Load().f32x4Mul().f32x4Add().set(acc),
      () => c.get(sum).get(dy).get(off).i32Add().get(j).i32Add().f32Load().get(w).get(j).i32Add().f32Load().f32Mul()
        .get(x).get(off).i32Add().get(j).i32Add().f32Load().f32Mul().f32Add().set(sum));
    emitHorizontal(c, acc, 'add');
    // c = r²·Σ / D
    c.get(sum).f32Add().get(rs).f32Mul().get(rs).f32Mul().get(D).f32ConvertI32S().f32Div().tee(cc).f32x4Splat().set(cv);
    // dx = r·(dy·w − x·c)
    emitRowLoop(c, j, nB, n4B,
      () => c.get(dx).get(off).i32Add().get(j).i32Add()
        .get(dy).get(off).i32Add().get(j).i32Add().v128Load().get(w).get(j).i32Add().v128Load().f32x4Mul()
        .get(x).get(off).i32Add().get(j).i32Add().v128Load().get(cv).f32x4Mul().f32x4Sub().get(rv).f32x4Mul().v128Store(),
      () => c.get(dx).get(off).i32Add().get(j).i32Add()
        .get(dy).get(off).i32Add().get(j).i32Add().f32Load().get(w).get(j).i32Add().f32Load().f32Mul()
        .get(x).get(off).i32Add().get(j).i32Add().f32Load().get(cc).f32Mul().f32Sub().get(rs).f32Mul().f32Store());
  });
  return c;
}

/** geluGrad(dy, x, s, dx, n) for n floats (n % 4 == 0): dx = dy·(s + x·s(1 − s)·2c(1 + 3k x²)). */
function geluGrad(): Code {
  const [dy, x, s, dx, n] = [0, 1, 2, 3, 4];
  const c = new Code([I32, I32, I32, I32, I32]);
  const i = c.local(I32);
  const end = c.local(I32);
  const v = c.local(V128);
  const sg = c.local(V128);
  const k = new Consts(c);
  const one = k.get(1);
  c.get(n).i32(2).i32Shl().set(end);
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(end).i32GeS().brIf(1);
  c.get(x).get(i).i32Add().v128Load().set(v);
  c.get(s).get(i).i32Add().v128Load().set(sg);
  c.get(dx).get(i).i32Add();
  c.get(dy).get(i).i32Add().v128Load();
  c.get(sg);
  c.get(v).get(sg).f32x4Mul().get(one).get(sg).f32x4Sub().f32x4Mul();
  c.get(v).get(v).f32x4Mul().get(k.get(3 * GELU_K)).f32x4Mul().get(one).f32x4Add().get(k.get(2 * GELU_C)).f32x4Mul().f32x4Mul();
  c.f32x4Add().f32x4Mul().v128Store();
  c.get(i).i32(16).i32Add().set(i).br(0);
  c.end().end();
  return c;
}

/**
 * softmaxGradRows(dp, p, rows, S, scale): in place over dp (rows packed, S floats each, any S):
 * dp = p·(dp − Σ_j dp·p)·scale. Entries where p is 0 (masked keys) come out 0.
 */
function softmaxGradRows(): Code {
  const [dp, p, rows, S, scale] = [0, 1, 2, 3, 4];
  const c = new Code([I32, I32, I32, I32, F32]);
  const r = c.local(I32);
  const off = c.local(I32);
  const j = c.local(I32);
  const nB = c.local(I32);
  const n4B = c.local(I32);
  const acc = c.local(V128);
  const dv = c.local(V128);
  const sv = c.local(V128);
  const sum = c.local(F32);
  const dot = c.local(F32);
  c.get(S).i32(2).i32Shl().set(nB);
  c.get(S).i32(-4).i32And().i32(2).i32Shl().set(n4B);
  c.get(scale).f32x4Splat().set(sv);
  c.i32(0).set(r);
  c.block().loop();
  c.get(r).get(rows).i32GeS().brIf(1);
  c.get(r).get(nB).i32Mul().set(off);
  c.f32(0).f32x4Splat().set(acc);
  c.f32(0).set(sum);
  emitRowLoop(c, j, nB, n4B,
    () => c.get(acc).get(dp).get(off).i32Add().get(j).i32Add().v128Load().get(p).get(off).i32Add().get(j).i32Add().v128Load().f32x4Mul().f32x4Add().set(acc),
    () => c.get(sum).get(dp).get(off).i32Add().get(j).i32Add().f32Load().get(p).get(off).i32Add().get(j).i32Add().f32Load().f32Mul().f32Add().set(sum));
  emitHorizontal(c, acc, 'add');
  c.get(sum).f32Add().tee(dot).f32x4Splat().set(dv);
  emitRowLoop(c, j, nB, n4B,
    () => c.get(dp).get(off).i32Add().get(j).i32Add().get(p).get(off).i32Add().get(j).i32Add().v128Load()
      .get(dp).get(off).i32Add().get(j).i32Add().v128Load().get(dv).f32x4Sub().f32x4Mul().get(sv).f32x4Mul().v128Store(),
    () => c.get(dp).get(off).i32Add().get(j).i32Add().get(p).get(off).i32Add().get(j).i32Add().f32Load()
      .get(dp).get(off).i32Add().get(j).i32Add().f32Load().get(dot).f32Sub().f32Mul().get(scale).f32Mul().f32Store());
  c.get(r).i32(1).i32Add().set(r).br(0);
  c.end().end();
  return c;
}

/**
 * attentionScores(q, k, sc, BH, T, S, Sp, hd, kvs, scale): for each head bh and query t,
 * sc[(bh·T + t)·Sp + j] = scale · q[bh, t] · k[bh, j] for all j < S (hd % 4 == 0). Head bh's keys
 * start kvs floats after head bh − 1's (S · hd when packed; a KV cache's capacity · hd), so a cache
 * is read in place. Four keys per pass, each with its own accumulator: one dot product at a time
 * is bound by the latency of the f32x4 add.
 */
function attentionScores(): Code {
  const [q, k, sc, BH, T, S, Sp, hd, kvs, scale] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const c = new Code([I32, I32, I32, I32, I32, I32, I32, I32, I32, F32]);
  const bh = c.local(I32);
  const t = c.local(I32);
  const j = c.local(I32);
  const i = c.local(I32);
  const hdB = c.local(I32);
  const qrow = c.local(I32);
  const krow = c.local(I32);
  const srow = c.local(I32);
  const at = c.local(I32);
  const S4 = c.local(I32);
  const qv = c.local(V128);
  const acc = [c.local(V128), c.local(V128), c.local(V128), c.local(V128)];
  c.get(hd).i32(2).i32Shl().set(hdB);
  c.get(S).i32(-4).i32And().set(S4);
  c.i32(0).set(bh);
  c.block().loop();
  c.get(bh).get(BH).i32GeS().brIf(1);
  c.i32(0).set(t);
  c.block().loop();
  c.get(t).get(T).i32GeS().brIf(1);
  c.get(q).get(bh).get(T).i32Mul().get(t).i32Add().get(hdB).i32Mul().i32Add().set(qrow);
  c.get(sc).get(bh).get(T).i32Mul().get(t).i32Add().get(Sp).i32Mul().i32(2).i32Shl().i32Add().set(srow);
  c.get(k).get(bh).get(kvs).i32Mul().i32(2).i32Shl().i32Add().set(krow);
  c.i32(0).set(j);
  // Keys j .. j + 3 together.
  c.block().loop();
  c.get(j).get(S4).i32GeS().brIf(1);
  for (const a of acc) c.f32(0).f32x4Splat().set(a);
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(hdB).i32GeS().brIf(1);
  c.get(qrow).get(i).i32Add().v128Load().set(qv);
  c.get(krow).get(i).i32Add().set(at);
  acc.forEach((a, u) => {
    c.get(a).get(qv).get(at);
    if (u > 0) c.get(hdB).i32(u).i32Mul().i32Add();
    c.v128Load().f32x4Mul().f32x4Add().set(a);
  });
  c.get(i).i32(16).i32Add().set(i).br(0);
  c.end().end();
  acc.forEach((a, u) => {
    c.get(srow).get(j).i32(2).i32Shl().i32Add();
    emitHorizontal(c, a, 'add');
    c.get(scale).f32Mul().f32Store(4 * u);
  });
  c.get(krow).get(hdB).i32(2).i32Shl().i32Add().set(krow);
  c.get(j).i32(4).i32Add().set(j).br(0);
  c.end().end();
  // The last S mod 4 keys one at a time.
  c.block().loop();
  c.get(j).get(S).i32GeS().brIf(1);
  c.f32(0).f32x4Splat().set(acc[0]);
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(hdB).i32GeS().brIf(1);
  c.get(acc[0]).get(qrow).get(i).i32Add().v128Load().get(krow).get(i).i32Add().v128Load().f32x4Mul().f32x4Add().set(acc[0]);
  c.get(i).i32(16).i32Add().set(i).br(0);
  c.end().end();
  c.get(srow).get(j).i32(2).i32Shl().i32Add();
  emitHorizontal(c, acc[0], 'add');
  c.get(scale).f32Mul().f32Store();
  c.get(krow).get(hdB).i32Add().set(krow);
  c.get(j).i32(1).i32Add().set(j).br(0);
  c.end().end();
  c.get(t).i32(1).i32Add().set(t).br(0);
  c.end().end();
  c.get(bh).i32(1).i32Add().set(bh).br(0);
  c.end().end();
  return c;
}

/**
 * attentionValues(sc, v, o, BH, T, S, Sp, hd, kvs): o[bh, t] = Σ_j sc[(bh·T + t)·Sp + j] · v[bh, j]
 * (hd % 4 == 0; head bh's values start kvs floats after head bh − 1's). The output row stays in
 * memory (it is hd floats, in L1) and the value rows stream through once, four keys per pass:
 * o += s0·v[j] + s1·v[j+1] + s2·v[j+2] + s3·v[j+3]. Sweeping the keys once per four output
 * columns instead re-read the head's values hd/4 times, which at hd 128 (40 KB per head at 80
 * keys) no longer stays in L1: 155 µs per decoding call at batch 8 × 4 heads against 60 at hd 64.
 */
function attentionValues(): Code {
  const [sc, v, o, BH, T, S, Sp, hd, kvs] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const c = new Code([I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const bh = c.local(I32);
  const t = c.local(I32);
  const j = c.local(I32);
  const i = c.local(I32);
  const hdB = c.local(I32);
  const srow = c.local(I32);
  const vrow = c.local(I32);
  const orow = c.local(I32);
  const S4 = c.local(I32);
  const sv = [c.local(V128), c.local(V128), c.local(V128), c.local(V128)];
  const rows = [c.local(I32), c.local(I32), c.local(I32)]; // vrow + u·hdB, u = 1..3
  const oend = c.local(I32);
  c.get(hd).i32(2).i32Shl().set(hdB);
  c.get(S).i32(-4).i32And().set(S4);
  c.i32(0).set(bh);
  c.block().loop();
  c.get(bh).get(BH).i32GeS().brIf(1);
  c.i32(0).set(t);
  c.block().loop();
  c.get(t).get(T).i32GeS().brIf(1);
  c.get(sc).get(bh).get(T).i32Mul().get(t).i32Add().get(Sp).i32Mul().i32(2).i32Shl().i32Add().set(srow);
  c.get(o).get(bh).get(T).i32Mul().get(t).i32Add().get(hdB).i32Mul().i32Add().set(orow);
  // o row = 0
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(hdB).i32GeS().brIf(1);
  c.get(orow).get(i).i32Add().f32(0).f32x4Splat().v128Store();
  c.get(i).i32(16).i32Add().set(i).br(0);
  c.end().end();
  c.get(v).get(bh).get(kvs).i32Mul().i32(2).i32Shl().i32Add().set(vrow);
  c.i32(0).set(j);
  // Four keys per pass.
  c.block().loop();
  c.get(j).get(S4).i32GeS().brIf(1);
  sv.forEach((l, u) => c.get(srow).get(j).i32(2).i32Shl().i32Add().f32Load(4 * u).f32x4Splat().set(l));
  rows.forEach((r, u) => c.get(vrow).get(hdB).i32(u + 1).i32Mul().i32Add().set(r));
  // i walks the output row; the value rows are read at the same offset from their starts.
  c.get(orow).set(i);
  c.get(orow).get(hdB).i32Add().set(oend);
  c.block().loop();
  c.get(i).get(oend).i32GeS().brIf(1);
  c.get(i);
  c.get(i).v128Load();
  c.get(sv[0]).get(vrow).v128Load().f32x4Mul().f32x4Add();
  rows.forEach((r, u) => c.get(sv[u + 1]).get(r).v128Load().f32x4Mul().f32x4Add());
  c.v128Store();
  c.get(vrow).i32(16).i32Add().set(vrow);
  rows.forEach((r) => c.get(r).i32(16).i32Add().set(r));
  c.get(i).i32(16).i32Add().set(i).br(0);
  c.end().end();
  // vrow has moved one row on; the next group starts three rows further.
  c.get(vrow).get(hdB).i32(3).i32Mul().i32Add().set(vrow);
  c.get(j).i32(4).i32Add().set(j).br(0);
  c.end().end();
  // The remaining keys one at a time.
  c.block().loop();
  c.get(j).get(S).i32GeS().brIf(1);
  c.get(srow).get(j).i32(2).i32Shl().i32Add().f32Load().f32x4Splat().set(sv[0]);
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(hdB).i32GeS().brIf(1);
  c.get(orow).get(i).i32Add();
  c.get(orow).get(i).i32Add().v128Load().get(sv[0]).get(vrow).get(i).i32Add().v128Load().f32x4Mul().f32x4Add();
  c.v128Store();
  c.get(i).i32(16).i32Add().set(i).br(0);
  c.end().end();
  c.get(vrow).get(hdB).i32Add().set(vrow);
  c.get(j).i32(1).i32Add().set(j).br(0);
  c.end().end();
  c.get(t).i32(1).i32Add().set(t).br(0);
  c.end().end();
  c.get(bh).i32(1).i32Add().set(bh).br(0);
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

/**
 * adamw(p, m, v, g, n, b1, c1, b2, c2, bc1, bc2, eps, lr, decay, scale): one AdamW update of n
 * floats (n % 4 == 0), p, m and v in place. Every f32x4 operation is an IEEE float32 operation
 * (division and square root correctly rounded), in the order of ops.adamwUpdate's composite:
 *   g' = g·scale; m = m·b1 + g'·c1; v = v·b2 + (g'·g')·c2;
 *   p = p·decay − ((m / bc1) / (sqrt(v / bc2) + eps))·lr
 */
function adamw(): Code {
  const [p, m, v, g, n, b1, c1, b2, c2, bc1, bc2, eps, lr, decay, scale] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const c = new Code([I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32]);
  const i = c.local(I32);
  const end = c.local(I32);
  const gi = c.local(V128);
  const mi = c.local(V128);
  const vi = c.local(V128);
  const splat = [b1, c1, b2, c2, bc1, bc2, eps, lr, decay, scale].map((param) => {
    const l = c.local(V128);
    c.get(param).f32x4Splat().set(l);
    return l;
  });
  const [B1, C1, B2, C2, BC1, BC2, EPS, LR, DECAY, SCALE] = splat;
  c.get(n).i32(2).i32Shl().set(end);
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(end).i32GeS().brIf(1);
  c.get(g).get(i).i32Add().v128Load().get(SCALE).f32x4Mul().set(gi);
  c.get(m).get(i).i32Add().v128Load().get(B1).f32x4Mul().get(gi).get(C1).f32x4Mul().f32x4Add().set(mi);
  c.get(m).get(i).i32Add().get(mi).v128Store();
  c.get(v).get(i).i32Add().v128Load().get(B2).f32x4Mul().get(gi).get(gi).f32x4Mul().get(C2).f32x4Mul().f32x4Add().set(vi);
  c.get(v).get(i).i32Add().get(vi).v128Store();
  // p = p·decay − ((m / bc1) / (sqrt(v / bc2) + eps))·lr
  c.get(p).get(i).i32Add();
  c.get(p).get(i).i32Add().v128Load().get(DECAY).f32x4Mul();
  c.get(mi).get(BC1).f32x4Div().get(vi).get(BC2).f32x4Div().f32x4Sqrt().get(EPS).f32x4Add().f32x4Div().get(LR).f32x4Mul();
  c.f32x4Sub().v128Store();
  c.get(i).i32(16).i32Add().set(i).br(0);
  c.end().end();
  return c;
}

/** v128 local s = σ(v) = 1 / (1 + e^(−v)) for the v128 local v (SwiGLU's gate). */
function emitSigmoid(c: Code, k: Consts, v: number, s: number, z: number, t: { n: number; g: number }): void {
  c.get(k.get(0)).get(v).f32x4Sub().set(z);
  emitExp(c, k, z, s, t, false);
  c.get(k.get(1)).get(k.get(1)).get(s).f32x4Add().f32x4Div().set(s);
}

/** swiglu(g, u, y, n): y = g · σ(g) · u over n floats (n % 4 == 0). */
function swiglu(): Code {
  const [g, u, y, n] = [0, 1, 2, 3];
  const c = new Code([I32, I32, I32, I32]);
  const i = c.local(I32);
  const end = c.local(I32);
  const v = c.local(V128);
  const z = c.local(V128);
  const s = c.local(V128);
  const t = { n: c.local(V128), g: c.local(V128) };
  const k = new Consts(c);
  c.get(n).i32(2).i32Shl().set(end);
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(end).i32GeS().brIf(1);
  c.get(g).get(i).i32Add().v128Load().set(v);
  emitSigmoid(c, k, v, s, z, t);
  c.get(y).get(i).i32Add().get(v).get(s).f32x4Mul().get(u).get(i).i32Add().v128Load().f32x4Mul().v128Store();
  c.get(i).i32(16).i32Add().set(i);
  c.br(0).end().end();
  return c;
}

/** swigluGrad(dy, g, u, dg, du, n): dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·g·σ(g) (n % 4 == 0). */
function swigluGrad(): Code {
  const [dy, g, u, dg, du, n] = [0, 1, 2, 3, 4, 5];
  const c = new Code([I32, I32, I32, I32, I32, I32]);
  const i = c.local(I32);
  const end = c.local(I32);
  const v = c.local(V128);
  const z = c.local(V128);
  const s = c.local(V128);
  const d = c.local(V128);
  const t = { n: c.local(V128), g: c.local(V128) };
  const k = new Consts(c);
  const one = k.get(1);
  c.get(n).i32(2).i32Shl().set(end);
  c.i32(0).set(i);
  c.block().loop();
  c.get(i).get(end).i32GeS().brIf(1);
  c.get(g).get(i).i32Add().v128Load().set(v);
  emitSigmoid(c, k, v, s, z, t);
  // d = dy · σ(g)
  c.get(dy).get(i).i32Add().v128Load().get(s).f32x4Mul().set(d);
  c.get(du).get(i).i32Add().get(d).get(v).f32x4Mul().v128Store();
  c.get(dg).get(i).i32Add();
  c.get(d).get(u).get(i).i32Add().v128Load().f32x4Mul();
  c.get(one).get(v).get(one).get(s).f32x4Sub().f32x4Mul().f32x4Add();
  c.f32x4Mul().v128Store();
  c.get(i).i32(16).i32Add().set(i);
  c.br(0).end().end();
  return c;
}

export function simdModuleBytes(): Uint8Array<ArrayBuffer> {
  return buildModule(
    {
      gelu: gelu(),
      geluGrad: geluGrad(),
      softmaxRows: softmaxRows(),
      softmaxGradRows: softmaxGradRows(),
      maxSumExp: maxSumExp(),
      scaledSoftmax: scaledSoftmax(),
      layerNorm: layerNorm(),
      layerNormGrad: layerNormGrad(),
      attentionScores: attentionScores(),
      attentionValues: attentionValues(),
      expInPlace: expInPlace(),
      adamw: adamw(),
      swiglu: swiglu(),
      rmsNorm: rmsNorm(),
      rmsNormGrad: rmsNormGrad(),
      swigluGrad: swigluGrad(),
    },
    16,
  );
}
