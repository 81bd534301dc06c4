/**
 * A cheap content identity of a model directory, for deciding whether a finished run was made
 * with the same model: the SHA-256 of config.json and of the tokenizer files, and of the weight
 * files (model.safetensors, or every *.safetensors shard and the index). Weight files up to
 * 64 MiB are hashed whole; larger ones by their size, their first MiB (the safetensors header
 * and the first tensors) and 32 blocks of 64 KiB spread evenly over the rest, so a 14 GB model
 * costs about 3 MiB of reads. That catches any replaced or retrained model (every block
 * changes), not a single edited byte in the middle of a large file. The directory's path is not
 * part of the identity: a moved or copied model is the same model.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export interface ModelIdentity {
  config: string;
  tokenizer: string;
  weights: string;
}

const WHOLE_LIMIT = 64 * 2 ** 20;
const HEAD = 2 ** 20;
const BLOCK = 64 * 2 ** 10;
const BLOCKS = 32;

const short = (h: ReturnType<typeof createHash>) => h.digest('hex').slice(0, 16);

function hashFiles(dir: string, names: readonly string[]): string {
  const h = createHash('sha256');
  for (const n of names) {
    const f = join(dir, n);
    if (!existsSync(f)) continue;
    h.update(`${n}\0`);
    h.update(readFileSync(f));
  }
  return short(h);
}

function sampleFile(h: ReturnType<typeof createHash>, path: string): void {
  const size = statSync(path).size;
  h.update(`${size}\0`);
  if (size <= WHOLE_LIMIT) {
    h.update(readFileSync(path));
    return;
  }
  const fd = openSync(path, 'r');
  try {
    const read = (off: number, len: number) => {
      const buf = Buffer.alloc(len);
      const n = readSync(fd, buf, 0, len, off);
      h.update(buf.subarray(0, n));
    };
    read(0, HEAD);
    const span = size - HEAD - BLOCK;
    for (let i = 0; i <= BLOCKS; i++) read(HEAD + Math.floor((span * i) / BLOCKS), BLOCK);
  } finally {
    closeSync(fd);
  }
}

const cache = new Map<string, ModelIdentity>();

/** The identity of a model directory (cached while its files' sizes and times stay the same). */
export function modelIdentity(dir: string): ModelIdentity {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors') || f === 'model.safetensors.index.json')
    .sort();
  const key = [dir, ...['config.json', 'tokenizer.json', ...files].map((f) => (existsSync(join(dir, f)) ? `${f}:${statSync(join(dir, f)).size}:${statSync(join(dir, f)).mtimeMs}` : f))].join('|');
  const hit = cache.get(key);
  if (hit) return hit;
  const weights = createHash('sha256');
  for (const f of files) {
    weights.update(`${f}\0`);
    sampleFile(weights, join(dir, f));
  }
  const id = {
    config: hashFiles(dir, ['config.json']),
    tokenizer: hashFiles(dir, ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']),
    weights: short(weights),
  };
  cache.set(key, id);
  return id;
}
