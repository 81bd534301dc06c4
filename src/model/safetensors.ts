/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, optional
 * "__metadata__": {string: string}}, then the raw little-endian tensor bytes (offsets are relative
 * to the end of the header). Used for model checkpoints and PEFT adapters alike.
 *
 * Every dtype is read into a Float32Array (F16 and BF16 exactly; F64 and integers by value);
 * writing is always F32.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';

export interface StoredTensor {
  /** The dtype in the file (always 'F32' for tensors we are about to write). */
  dtype: string;
  shape: number[];
  data: Float32Array;
}

/** What `writeSafetensors` accepts per tensor: dtype is implied (F32). */
export type TensorData = { shape: readonly number[]; data: Float32Array };

export interface SafetensorsContents {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

export const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};
const BYTES = DTYPE_BYTES;

/** IEEE half → float (exact: every half is representable as a float). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decodeData(dtype: string, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  decodeInto(dtype, bytes, out);
  return out;
}

/**
 * Convert raw little-endian tensor bytes of `dtype` into `out` (float32). With `transpose`, the
 * bytes hold a [rows, cols] matrix and `out` receives its transpose [cols, rows].
 */
export function decodeInto(dtype: string, bytes: Uint8Array, out: Float32Array, transpose?: { rows: number; cols: number }): void {
  const n = out.length;
  const dst = transpose !== undefined;
  if (dtype === 'F32' && !dst) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes.subarray(0, 4 * n)); // safetensors is little-endian, as is every host we run on
    return;
  }
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const u32 = new Uint32Array(out.buffer, out.byteOffset, n);
    if (!dst) for (let i = 0; i < n; i++) u32[i] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
    else transposeLoop(transpose!, (i, j) => (u32[j] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16));
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read: Record<string, (i: number) => number> = {
    F32: (i) => view.getFloat32(4 * i, true),
    F16: (i) => halfToFloat(view.getUint16(2 * i, true)),
    F64: (i) => view.getFloat64(8 * i, true),
    BOOL: (i) => view.getUint8(i),
    U8: (i) => view.getUint8(i),
    I8: (i) => view.getInt8(i),
    I16: (i) => view.getInt16(2 * i, true),
    U16: (i) => view.getUint16(2 * i, true),
    I32: (i) => view.getInt32(4 * i, true),
    U32: (i) => view.getUint32(4 * i, true),
    I64: (i) => Number(view.getBigInt64(8 * i, true)),
    U64: (i) => Number(view.getBigUint64(8 * i, true)),
  };
  const f = read[dtype];
  if (!dst) for (let i = 0; i < n; i++) out[i] = f(i);
  else transposeLoop(transpose!, (i, j) => (out[j] = f(i)));
}

/** Visit source index i of a row-major [rows, cols] matrix with its transposed index j. */
function transposeLoop(t: { rows: number; cols: number }, visit: (i: number, j: number) => void): void {
  for (let r = 0; r < t.rows; r++) for (let c = 0; c < t.cols; c++) visit(r * t.cols + c, c * t.rows + r);
}

/** Parse a whole safetensors file held in memory; `file` is named in every error. */
export function decodeSafetensors(buf: Uint8Array, file: string): SafetensorsContents {
  const fail = (what: string) => new UsageError(`${file}: ${what}`);
  if (buf.byteLength < 8) throw fail('not a safetensors file (shorter than its 8-byte header length)');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > buf.byteLength - 8) throw fail(`not a safetensors file (header length ${headerLen} exceeds the file size ${buf.byteLength})`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, headerLen).toString('utf8'));
  } catch (err) {
    throw fail(`not a safetensors file (header is not JSON: ${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('safetensors header is not a JSON object');

  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const bad = (what: string) => fail(`tensor '${name}': ${what}`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e?.dtype !== 'string' || !(e.dtype in BYTES)) throw bad(`unsupported dtype ${JSON.stringify(e?.dtype)} (expected one of ${Object.keys(BYTES).join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`bad shape ${JSON.stringify(shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) throw bad(`bad data_offsets ${JSON.stringify(offs)}`);
    const [begin, end] = offs as [number, number];
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== n * BYTES[e.dtype]) throw bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${e.dtype} ${JSON.stringify(shape)} needs ${n * BYTES[e.dtype]}`);
    if (end > dataLen) throw bad(`data_offsets end ${end} is past the end of the data (${dataLen} bytes); the file is truncated`);
    const bytes = buf.subarray(dataStart + begin, dataStart + end);
    tensors.set(name, { dtype: e.dtype, shape: shape as number[], data: decodeData(e.dtype, bytes, n) });
  }
  return { tensors, metadata };
}

/** Read a safetensors file with its metadata. */
export function readSafetensorsFile(path: string): SafetensorsContents {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new UsageError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeSafetensors(buf, path);
}

/** Read a safetensors file: name → {dtype, shape, data as Float32Array}. */
export function readSafetensors(path: string): Map<string, StoredTensor> {
  return readSafetensorsFile(path).tensors;
}

/** Serialise tensors as F32 safetensors (names sorted, header padded to 8 bytes as the reference writer does). */
export function encodeSafetensors(
  tensors: Map<string, TensorData> | Record<string, TensorData>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors write: tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(', ')}]`);
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Write tensors to `path` as F32 safetensors, atomically. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, TensorData> | Record<string, TensorData>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
