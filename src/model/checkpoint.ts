/**
 * Hugging Face GPT-2 checkpoints: a model directory holds config.json and model.safetensors
 * (or shards listed in model.safetensors.index.json). Keys may carry the `transformer.` prefix
 * (GPT2LMHeadModel) or not (GPT2Model); we write them with it, as save_pretrained does.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { gpt2ConfigToJson, loadGPT2Config, type GPT2Config } from './config.js';
import { GPT2, gpt2ParamShapes } from './gpt2.js';
import { readJsonFile } from '../util/text-file.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type StoredTensor, type TensorData } from './safetensors.js';

/** Repository root, found from this module's location (src/model under tsx, dist/src/model after tsc). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the colora repository root (package.json)');
    dir = up;
  }
  return dir;
}

/** `builtin:NAME` → <repo>/models/NAME; otherwise a directory path. It must hold config.json. */
export function resolveModelDir(nameOrDir: string): string {
  let dir: string;
  if (nameOrDir.startsWith('builtin:')) {
    const name = nameOrDir.slice('builtin:'.length);
    const models = join(repoRoot(), 'models');
    dir = join(models, name);
    if (!name || !existsSync(dir)) {
      const known = existsSync(models) ? readdirSync(models).filter((n) => statSync(join(models, n)).isDirectory()) : [];
      throw new UsageError(
        `model '${nameOrDir}': no built-in model of that name in ${models} (available: ${known.length ? known.join(', ') : 'none'}; \`colora pretrain\` makes them)`,
      );
    }
  } else {
    dir = resolve(nameOrDir);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new UsageError(`model '${nameOrDir}': not a directory (expected a Hugging Face model directory or builtin:NAME)`);
    }
  }
  if (!existsSync(join(dir, 'config.json'))) {
    throw new UsageError(`${join(dir, 'config.json')}: not found (model '${nameOrDir}' needs a Hugging Face config.json)`);
  }
  return dir;
}

/** The safetensors files of a model directory: model.safetensors, or the shards its index lists. */
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
    return [...shards].map((f) => join(dir, f));
  }
  const other = ['pytorch_model.bin', 'model.bin', 'tf_model.h5'].find((f) => existsSync(join(dir, f)));
  throw new UsageError(
    `${single}: not found${other ? ` (the directory has ${other}; convert it to safetensors, e.g. save_pretrained(..., safe_serialization=True))` : ''}`,
  );
}

/**
 * Every tensor's shape in the given checkpoint files, from their headers only (no tensor data is
 * read): a loader checks names and shapes against its config.json here, so nothing is allocated
 * for a config that does not describe these weights. A tensor stored in two shards is refused.
 */
export function checkpointShapes(files: string[]): Map<string, { shape: readonly number[]; file: string }> {
  const out = new Map<string, { shape: readonly number[]; file: string }>();
  for (const file of files)
    for (const [name, e] of readSafetensorsHeader(file).entries) {
      const prev = out.get(name);
      if (prev) throw new UsageError(`${file}: tensor '${name}' is also stored in ${prev.file}`);
      out.set(name, { shape: e.shape, file });
    }
  return out;
}

/** All tensors of the given checkpoint files, with the file each came from. */
export function readCheckpointTensors(files: string[]): Map<string, { t: StoredTensor; file: string }> {
  const out = new Map<string, { t: StoredTensor; file: string }>();
  for (const file of files) for (const [name, t] of readSafetensors(file)) out.set(name, { t, file });
  return out;
}

/**
 * The checkpoint key of every GPT-2 parameter (no prefix), checking names and shapes; works on
 * headers (checkpointShapes) as well as on decoded tensors. `where` names the checkpoint in errors.
 */
export function gpt2ParamKeys(
  config: GPT2Config,
  tensors: Map<string, { shape: readonly number[]; file: string }>,
  where: string,
): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [name, shape] of gpt2ParamShapes(config)) {
    const key = tensors.has(`transformer.${name}`) ? `transformer.${name}` : name;
    const hit = tensors.get(key);
    if (!hit) throw new UsageError(`${where}: missing tensor '${name}' (or 'transformer.${name}'), expected shape [${shape.join(', ')}]`);
    if (!sameShape(hit.shape, shape)) {
      throw new UsageError(`${hit.file}: tensor '${name}' has shape [${hit.shape.join(', ')}], expected [${shape.join(', ')}] for this config.json`);
    }
    keys.set(name, key);
  }
  const head = tensors.get('lm_head.weight');
  if (head && config.tieWordEmbeddings && !sameShape(head.shape, [config.vocabSize, config.nEmbd]))
    throw new UsageError(`${head.file}: tensor 'lm_head.weight' has shape [${head.shape.join(', ')}], but config.json has tie_word_embeddings: true (it must equal 'wte.weight')`);
  return keys;
}

/**
 * Map a checkpoint's tensors to GPT-2 parameters (no prefix), checking names and shapes.
 * `where` names the checkpoint in errors.
 */
export function gpt2ParamsFromTensors(
  config: GPT2Config,
  tensors: Map<string, { t: StoredTensor; file: string }>,
  where: string,
): Map<string, StoredTensor> {
  const shapes = new Map([...tensors].map(([k, v]) => [k, { shape: v.t.shape, file: v.file }]));
  const params = new Map<string, StoredTensor>();
  for (const [name, key] of gpt2ParamKeys(config, shapes, where)) params.set(name, tensors.get(key)!.t);
  // A tied model may still store lm_head.weight; it must then be the embedding itself.
  const head = tensors.get('lm_head.weight');
  if (head && config.tieWordEmbeddings) {
    const wte = params.get('wte.weight')!;
    if (head.t.data.some((v, i) => v !== wte.data[i])) {
      throw new UsageError(`${head.file}: tensor 'lm_head.weight' differs from 'wte.weight', but config.json has tie_word_embeddings: true`);
    }
  }
  return params;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Load a GPT-2 from a model directory (config.json + safetensors). */
export function loadGPT2(modelDir: string): GPT2 {
  const config = loadGPT2Config(modelDir);
  const files = checkpointFiles(modelDir);
  gpt2ParamKeys(config, checkpointShapes(files), modelDir); // names and shapes from the headers, before any data is read
  const params = gpt2ParamsFromTensors(config, readCheckpointTensors(files), modelDir);
  return GPT2.fromArrays(config, params);
}

/** Write config.json and model.safetensors (F32, `transformer.` prefix, tied head omitted) into `dir`. */
export async function saveGPT2(model: GPT2, dir: string): Promise<void> {
  const tensors = new Map<string, TensorData>();
  for (const [name, t] of model.namedParams()) {
    tensors.set(name === 'lm_head.weight' ? name : `transformer.${name}`, { shape: t.shape, data: (await t.data()) as Float32Array });
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeJsonAtomic(join(dir, 'config.json'), gpt2ConfigToJson(model.config));
}
