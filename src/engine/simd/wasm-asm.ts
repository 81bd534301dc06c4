/**
 * A minimal WebAssembly binary writer: enough to express the engine's SIMD loops (i32/f32 scalar
 * ops, structured control flow, 128-bit f32x4/i32x4 ops) as code, so the module is built at load
 * time from reviewable source rather than shipped as an opaque .wasm file.
 *
 * Encoding per the WebAssembly core spec (binary format) and the fixed-width SIMD proposal
 * (0xFD prefix, LEB128 sub-opcodes).
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

const f32Bytes = new Uint8Array(4);
const f32View = new DataView(f32Bytes.buffer);

/** One function body under construction; methods append instructions and return `this`. */
export class Code {
  readonly bytes: number[] = [];
  private readonly localTypes: ValType[] = [];

  constructor(readonly params: ValType[], readonly results: ValType[] = []) {}

  /** A new local of `type`; returns its index (parameters come first). */
  local(type: ValType): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  private op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }

  private simd(sub: number, ...imm: number[]): this {
    this.bytes.push(0xfd);
    uleb(sub, this.bytes);
    this.bytes.push(...imm);
    return this;
  }

  private mem(opcode: number[], align: number, offset: number): this {
    this.bytes.push(...opcode);
    uleb(align, this.bytes);
    uleb(offset, this.bytes);
    return this;
  }

  // Control flow (block type: empty).
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  if_(): this { return this.op(0x04, 0x40); }
  else_(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { this.bytes.push(0x0c); uleb(depth, this.bytes); return this; }
  brIf(depth: number): this { this.bytes.push(0x0d); uleb(depth, this.bytes); return this; }
  return_(): this { return this.op(0x0f); }
  drop(): this { return this.op(0x1a); }

  // Locals.
  get(i: number): this { this.bytes.push(0x20); uleb(i, this.bytes); return this; }
  set(i: number): this { this.bytes.push(0x21); uleb(i, this.bytes); return this; }
  tee(i: number): this { this.bytes.push(0x22); uleb(i, this.bytes); return this; }

  // i32.
  i32(v: number): this { this.bytes.push(0x41); sleb(v | 0, this.bytes); return this; }
  i32Eqz(): this { return this.op(0x45); }
  i32LtS(): this { return this.op(0x48); }
  i32GtS(): this { return this.op(0x4a); }
  i32LeS(): this { return this.op(0x4c); }
  i32GeS(): this { return this.op(0x4e); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32And(): this { return this.op(0x71); }
  i32Shl(): this { return this.op(0x74); }

  // f32.
  f32(v: number): this {
    f32View.setFloat32(0, v, true);
    return this.op(0x43, ...f32Bytes);
  }
  f32Load(offset = 0): this { return this.mem([0x2a], 2, offset); }
  f32Store(offset = 0): this { return this.mem([0x38], 2, offset); }
  f32Lt(): this { return this.op(0x5d); }
  f32Gt(): this { return this.op(0x5e); }
  f32Add(): this { return this.op(0x92); }
  f32Sub(): this { return this.op(0x93); }
  f32Mul(): this { return this.op(0x94); }
  f32Div(): this { return this.op(0x95); }
  f32Max(): this { return this.op(0x97); }
  f32Sqrt(): this { return this.op(0x91); }
  f32ConvertI32S(): this { return this.op(0xb2); }

  // v128 / f32x4 / i32x4.
  v128Load(offset = 0): this { this.bytes.push(0xfd, 0x00); uleb(4, this.bytes); uleb(offset, this.bytes); return this; }
  v128Store(offset = 0): this { this.bytes.push(0xfd, 0x0b); uleb(4, this.bytes); uleb(offset, this.bytes); return this; }
  i32x4Splat(): this { return this.simd(0x11); }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4ExtractLane(lane: number): this { return this.simd(0x1f, lane); }
  f32x4Lt(): this { return this.simd(0x43); }
  f32x4Gt(): this { return this.simd(0x44); }
  v128And(): this { return this.simd(0x4e); }
  v128AndNot(): this { return this.simd(0x4f); }
  v128Bitselect(): this { return this.simd(0x52); }
  f32x4Nearest(): this { return this.simd(0x6a); }
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4Add(): this { return this.simd(0xae); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f32x4Div(): this { return this.simd(0xe7); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  f32x4Min(): this { return this.simd(0xe8); }
  f32x4Max(): this { return this.simd(0xe9); }
  /** b < a ? b : a (x86 minps): no NaN/−0 fix-up sequence, unlike f32x4.min. */
  f32x4Pmin(): this { return this.simd(0xea); }
  /** a < b ? b : a (x86 maxps). */
  f32x4Pmax(): this { return this.simd(0xeb); }
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }

  /** The function body: locals then instructions then `end`. */
  encode(): number[] {
    const body: number[] = [];
    uleb(this.localTypes.length, body);
    for (const t of this.localTypes) {
      uleb(1, body);
      body.push(t);
    }
    body.push(...this.bytes, 0x0b);
    const out: number[] = [];
    uleb(body.length, out);
    out.push(...body);
    return out;
  }
}

function section(id: number, content: number[], out: number[]): void {
  out.push(id);
  uleb(content.length, out);
  out.push(...content);
}

function name(s: string, out: number[]): void {
  const b = new TextEncoder().encode(s);
  uleb(b.length, out);
  out.push(...b);
}

/** A module of exported functions over one exported memory named "memory". */
export function buildModule(functions: Record<string, Code>, memoryPages: number): Uint8Array<ArrayBuffer> {
  const entries = Object.entries(functions);
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(entries.length, types);
  for (const [, f] of entries) {
    types.push(0x60);
    uleb(f.params.length, types);
    types.push(...f.params);
    uleb(f.results.length, types);
    types.push(...f.results);
  }
  section(1, types, out);
  const funcs: number[] = [];
  uleb(entries.length, funcs);
  entries.forEach((_, i) => uleb(i, funcs));
  section(3, funcs, out);
  const mem: number[] = [1, 0x00];
  uleb(memoryPages, mem);
  section(5, mem, out);
  const exps: number[] = [];
  uleb(entries.length + 1, exps);
  entries.forEach(([n], i) => {
    name(n, exps);
    exps.push(0x00);
    uleb(i, exps);
  });
  name('memory', exps);
  exps.push(0x02, 0x00);
  section(7, exps, out);
  const code: number[] = [];
  uleb(entries.length, code);
  for (const [, f] of entries) code.push(...f.encode());
  section(10, code, out);
  return new Uint8Array(out);
}
