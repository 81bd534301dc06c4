/**
 * A model directory's safetensors checkpoint, read tensor by tensor: `model.safetensors`, or the
 * shards listed in `model.safetensors.index.json`. Only the headers are read up front; each
 * tensor's bytes are read with fs.readSync straight from its byte range and converted into its
 * own Float32Array, so loading holds the F32 weights plus one tensor's raw bytes, never a whole
 * file (a BF16 checkpoint loads within its F32 size plus the largest tensor).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { decodeInto, DTYPE_BYTES } from './safetensors.js';

export interface TensorEntry {
  dtype: string;
  shape: number[];
  /** The file that holds it. */
  file: string;
  /** Absolute byte range in that file. */
  begin: number;
  end: number;
}

export class CheckpointReader {
  private readonly entries = new Map<string, TensorEntry>();

  /** The files that make up the checkpoint (one, or the shards). */
  readonly files: string[];

  constructor(readonly dir: string) {
    this.files = checkpointFiles(dir);
    for (const file of this.files) for (const e of readHeader(file)) this.entries.set(e.name, e);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): TensorEntry | undefined {
    return this.entries.get(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Tensor `name` as float32. With `transpose`, a 2-D [rows, cols] tensor comes back as
   * [cols, rows] (row-major), converted in the same pass.
   */
  read(name: string, opts: { transpose?: boolean } = {}): Float32Array {
    const e = this.entries.get(name);
    if (!e) throw new Error(`checkpoint ${this.dir}: no tensor '${name}'`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    const bytes = Buffer.allocUnsafe(e.end - e.begin);
    const fd = openSync(e.file, 'r');
    try {
      let at = 0;
      while (at < bytes.length) {
        const got = readSync(fd, bytes, at, bytes.length - at, e.begin + at);
        if (got === 0) throw new UsageError(`${e.file}: tensor '${name}' is cut off (the file is truncated)`);
        at += got;
      }
    } finally {
      closeSync(fd);
    }
    const out = new Float32Array(n);
    if (opts.transpose) {
      if (e.shape.length !== 2) throw new Error(`checkpoint: cannot transpose '${name}' of shape [${e.shape}]`);
      decodeInto(e.dtype, bytes, out, { rows: e.shape[0], cols: e.shape[1] });
    } else decodeInto(e.dtype, bytes, out);
    return out;
  }
}

/** The safetensors files of a model directory, single or sharded. */
export function checkpointFiles(dir: string): string[] {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(single)) return [single];
  if (existsSync(index)) {
    let map: unknown;
    try {
      map = JSON.parse(readFileSync(index, 'utf8')).weight_map;
    } catch (err) {
      throw new UsageError(`${index}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new UsageError(`${index}: weight_map: expected an object of tensor name → shard file`);
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    for (const f of files) {
      if (typeof f !== 'string' || f.includes('/') || f.includes('\\')) throw new UsageError(`${index}: weight_map: expected shard file names, got ${JSON.stringify(f)}`);
      if (!existsSync(join(dir, f))) throw new UsageError(`${join(dir, f)}: not found (listed in ${index})`);
    }
    return (files as string[]).map((f) => join(dir, f));
  }
  const other = ['pytorch_model.bin', 'model.bin', 'tf_model.h5'].find((f) => existsSync(join(dir, f)));
  throw new UsageError(
    `${single}: not found${other ? ` (the directory has ${other}; convert it to safetensors, e.g. save_pretrained(..., safe_serialization=True))` : ''}`,
  );
}

/** The tensor entries of one safetensors file, from its header alone. */
function readHeader(file: string): (TensorEntry & { name: string })[] {
  const fail = (what: string) => new UsageError(`${file}: ${what}`);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw fail(`cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw fail('not a safetensors file (shorter than its 8-byte header length)');
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > size - 8) throw fail(`not a safetensors file (header length ${headerLen} exceeds the file size ${size})`);
    const hb = Buffer.alloc(headerLen);
    readSync(fd, hb, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString('utf8'));
    } catch (err) {
      throw fail(`not a safetensors file (header is not JSON: ${(err as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('safetensors header is not a JSON object');
    const dataStart = 8 + headerLen;
    const out: (TensorEntry & { name: string })[] = [];
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const bad = (what: string) => fail(`tensor '${name}': ${what}`);
      const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e?.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) throw bad(`unsupported dtype ${JSON.stringify(e?.dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`);
      const shape = e.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`bad shape ${JSON.stringify(shape)}`);
      const offs = e.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) throw bad(`bad data_offsets ${JSON.stringify(offs)}`);
      const [begin, end] = offs as [number, number];
      const n = (shape as number[]).reduce((a, b) => a * b, 1);
      const need = n * DTYPE_BYTES[e.dtype];
      if (end - begin !== need) throw bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${e.dtype} ${JSON.stringify(shape)} needs ${need}`);
      if (dataStart + end > size) throw bad(`data_offsets end ${end} is past the end of the data (${size - dataStart} bytes); the file is truncated`);
      out.push({ name, dtype: e.dtype, shape: shape as number[], file, begin: dataStart + begin, end: dataStart + end });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
