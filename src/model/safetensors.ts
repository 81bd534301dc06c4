/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, optional
 * "__metadata__": {string: string}}, then the raw little-endian tensor bytes (offsets are relative
 * to the end of the header). Used for model checkpoints and PEFT adapters alike.
 *
 * Every dtype is read into a Float32Array (F16 and BF16 exactly; F64 and integers by value);
 * writing is always F32.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { decodeUtf8 } from '../util/text-file.js';

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

/** The safetensors spec's limit on the JSON header (100 MB); a larger length is a corrupt file. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's entry in the header, checked: dtype known, shape and byte range consistent. */
export interface HeaderEntry {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
  /** Number of elements. */
  size: number;
}

export interface SafetensorsHeader {
  /** Length of the JSON header in bytes; tensor data starts at 8 + headerLen. */
  headerLen: number;
  entries: Map<string, HeaderEntry>;
  metadata: Record<string, string>;
}

/**
 * Parse and check the header: its length against the file size, its JSON, the metadata (string
 * → string), and per tensor the dtype, the shape (non-negative safe integers), the byte range
 * (its length matches dtype × shape, it lies inside the data) and that no two ranges overlap.
 * `fileSize` is the whole file's size; `headerBytes` are the bytes after the 8-byte length.
 */
export function parseSafetensorsHeader(lenBytes: Uint8Array, headerBytes: Uint8Array | undefined, fileSize: number, file: string): SafetensorsHeader {
  const fail = (what: string) => new UsageError(`${file}: ${what}`);
  if (fileSize < 8 || lenBytes.byteLength < 8) throw fail(`not a safetensors file (${fileSize} bytes, shorter than its 8-byte header length)`);
  const len = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (len > BigInt(fileSize - 8)) throw fail(`not a safetensors file (header length ${len} exceeds the file size ${fileSize}; truncated or not safetensors)`);
  if (len > BigInt(MAX_HEADER_BYTES)) throw fail(`not a safetensors file (header length ${len} is over the format's limit of ${MAX_HEADER_BYTES} bytes)`);
  const headerLen = Number(len);
  if (!headerBytes || headerBytes.byteLength < headerLen) throw fail('not a safetensors file (the header is cut short)');
  let header: unknown;
  try {
    header = JSON.parse(decodeUtf8(headerBytes.subarray(0, headerLen), `${file} (header)`));
  } catch (err) {
    if (err instanceof UsageError) throw fail(`not a safetensors file (header is not UTF-8 JSON: ${err.message.replace(/^.*\(header\)(:\d+)?: /, '')})`);
    throw fail(`not a safetensors file (header is not JSON: ${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('safetensors header is not a JSON object');

  const dataLen = fileSize - 8 - headerLen;
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry === null) continue;
      if (typeof entry !== 'object' || Array.isArray(entry) || !Object.values(entry).every((v) => typeof v === 'string'))
        throw fail('__metadata__: expected an object of string values');
      metadata = entry as Record<string, string>;
      continue;
    }
    const bad = (what: string) => fail(`tensor '${name}': ${what}`);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad('expected an object {dtype, shape, data_offsets}');
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !Object.hasOwn(BYTES, e.dtype)) throw bad(`unsupported dtype ${JSON.stringify(e.dtype)} (expected one of ${Object.keys(BYTES).join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`bad shape ${JSON.stringify(shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) throw bad(`bad data_offsets ${JSON.stringify(offs)}`);
    const [begin, end] = offs as [number, number];
    if (end < begin) throw bad(`data_offsets [${begin}, ${end}] end before they begin`);
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    const need = size * BYTES[e.dtype];
    if (!Number.isSafeInteger(need) || end - begin !== need) throw bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${e.dtype} ${JSON.stringify(shape)} needs ${need}`);
    if (end > dataLen) throw bad(`data_offsets end ${end} is past the end of the data (${dataLen} bytes); the file is truncated`);
    entries.set(name, { dtype: e.dtype, shape: shape as number[], begin, end, size });
  }
  const ranges = [...entries].filter(([, e]) => e.end > e.begin).sort(([, a], [, b]) => a.begin - b.begin);
  for (let i = 1; i < ranges.length; i++) {
    const [pn, p] = ranges[i - 1];
    const [n, e] = ranges[i];
    if (e.begin < p.end) throw fail(`tensor '${n}': data_offsets [${e.begin}, ${e.end}] overlap those of '${pn}' [${p.begin}, ${p.end}]`);
  }
  return { headerLen, entries, metadata };
}

export const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F16', 'BF16', 'F32', 'F64']);

/** Weights must be finite: a NaN or Inf is an error naming the file, the tensor and the first index. */
export function assertFinite(file: string, name: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      let count = 0;
      for (let j = i; j < data.length; j++) if (data[j] - data[j] !== 0) count++;
      throw new UsageError(`${file}: tensor '${name}' holds ${Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity'} at index ${i} (${count} non-finite of ${data.length} values); weights must be finite`);
    }
  }
}

/**
 * Parse a whole safetensors file held in memory; `file` is named in every error. Floating-point
 * tensors holding NaN or Inf are refused (every file colora reads is weights).
 */
export function decodeSafetensors(buf: Uint8Array, file: string): SafetensorsContents {
  const { headerLen, entries, metadata } = parseSafetensorsHeader(buf.subarray(0, 8), buf.subarray(8), buf.byteLength, file);
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, StoredTensor>();
  for (const [name, e] of entries) {
    const data = decodeData(e.dtype, buf.subarray(dataStart + e.begin, dataStart + e.end), e.size);
    if (FLOAT_DTYPES.has(e.dtype)) assertFinite(file, name, data);
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

function cannotRead(path: string, err: unknown): UsageError {
  return new UsageError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
}

/** Only the header of a safetensors file (reads the first 8 + N bytes, no tensor data). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw cannotRead(path, err);
  }
  try {
    const size = fstatSync(fd).size;
    const lenBytes = new Uint8Array(8);
    const got = readSync(fd, lenBytes, 0, 8, 0);
    const len = got === 8 ? new DataView(lenBytes.buffer).getBigUint64(0, true) : 0n;
    const want = len <= BigInt(Math.min(size, MAX_HEADER_BYTES)) ? Number(len) : 0;
    const header = new Uint8Array(want);
    if (want > 0) readSync(fd, header, 0, want, 8);
    return parseSafetensorsHeader(lenBytes.subarray(0, got), header, size, path);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw cannotRead(path, err);
  } finally {
    closeSync(fd);
  }
}

/** Read a safetensors file with its metadata. */
export function readSafetensorsFile(path: string): SafetensorsContents {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw cannotRead(path, err);
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
