/**
 * A model directory's safetensors checkpoint, read tensor by tensor: `model.safetensors`, or the
 * shards listed in `model.safetensors.index.json`. Only the headers are read up front; each
 * tensor's bytes are read with fs.readSync straight from its byte range and converted into its
 * own Float32Array, so loading holds the F32 weights plus one tensor's raw bytes, never a whole
 * file (a BF16 checkpoint loads within its F32 size plus the largest tensor). Floating-point
 * weights holding NaN or Inf are refused naming file and tensor.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { readJsonFile } from '../util/text-file.js';
import { assertFinite, decodeInto, FLOAT_DTYPES, readSafetensorsHeader } from './safetensors.js';

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
    for (const file of this.files) {
      // The whole header is checked (safetensors.ts): dtypes, shapes against byte ranges, overlaps.
      const h = readSafetensorsHeader(file);
      const dataStart = 8 + h.headerLen;
      for (const [name, e] of h.entries) {
        const prev = this.entries.get(name);
        if (prev) throw new UsageError(`${file}: tensor '${name}' is also stored in ${prev.file}`);
        this.entries.set(name, { dtype: e.dtype, shape: e.shape, file, begin: dataStart + e.begin, end: dataStart + e.end });
      }
    }
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
    if (FLOAT_DTYPES.has(e.dtype)) assertFinite(e.file, name, out);
    return out;
  }
}

/**
 * The safetensors files of a model directory: model.safetensors, or the shards its index lists
 * (shard names inside the directory: no absolute paths, no `..`; each must exist).
 */
export function checkpointFiles(dir: string): string[] {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(single)) return [single];
  if (existsSync(index)) {
    const raw = readJsonFile(index, 'safetensors index', 64 << 20);
    const map = (raw as { weight_map?: unknown } | null)?.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new UsageError(`${index}: weight_map: expected an object of tensor name → shard file`);
    const shards = new Set<string>();
    for (const [name, f] of Object.entries(map)) {
      if (typeof f !== 'string' || f === '' || isAbsolute(f) || f.split(/[\\/]/).includes('..'))
        throw new UsageError(`${index}: weight_map.${name}: expected a shard file name inside ${dir}, got ${JSON.stringify(f)}`);
      shards.add(f);
    }
    if (shards.size === 0) throw new UsageError(`${index}: weight_map: lists no shard files`);
    for (const f of shards) if (!existsSync(join(dir, f))) throw new UsageError(`${join(dir, f)}: not found (listed in ${index})`);
    return [...shards].map((f) => join(dir, f));
  }
  const other = ['pytorch_model.bin', 'model.bin', 'tf_model.h5'].find((f) => existsSync(join(dir, f)));
  throw new UsageError(
    `${single}: not found${other ? ` (the directory has ${other}; convert it to safetensors, e.g. save_pretrained(..., safe_serialization=True))` : ''}`,
  );
}
