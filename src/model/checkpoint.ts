/**
 * Hugging Face GPT-2 checkpoints: a model directory holds config.json and model.safetensors
 * (or shards listed in model.safetensors.index.json). Keys may carry the `transformer.` prefix
 * (GPT2LMHeadModel) or not (GPT2Model); we write them with it, as save_pretrained does.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { gpt2ConfigToJson, loadGPT2Config, type GPT2Config } from './config.js';
import { GPT2, gpt2ParamShapes } from './gpt2.js';
import { readSafetensors, writeSafetensors, type StoredTensor, type TensorData } from './safetensors.js';

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

/** All tensors of the directory's checkpoint, with the file each came from. */
function readCheckpointTensors(dir: string): Map<string, { t: StoredTensor; file: string }> {
  const out = new Map<string, { t: StoredTensor; file: string }>();
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  let files: string[];
  if (existsSync(single)) files = [single];
  else if (existsSync(index)) {
    let map: unknown;
    try {
      map = JSON.parse(readFileSync(index, 'utf8')).weight_map;
    } catch (err) {
      throw new UsageError(`${index}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof map !== 'object' || map === null) throw new UsageError(`${index}: weight_map: expected an object of tensor name → shard file`);
    files = [...new Set(Object.values(map as Record<string, string>))].map((f) => join(dir, f));
  } else {
    const other = ['pytorch_model.bin', 'model.bin', 'tf_model.h5'].find((f) => existsSync(join(dir, f)));
    throw new UsageError(
      `${single}: not found${other ? ` (the directory has ${other}; convert it to safetensors, e.g. save_pretrained(..., safe_serialization=True))` : ''}`,
    );
  }
  for (const file of files) for (const [name, t] of readSafetensors(file)) out.set(name, { t, file });
  return out;
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
  const find = (name: string) => tensors.get(`transformer.${name}`) ?? tensors.get(name);
  const params = new Map<string, StoredTensor>();
  const shapes = gpt2ParamShapes(config);
  for (const [name, shape] of shapes) {
    const hit = find(name);
    if (!hit) throw new UsageError(`${where}: missing tensor '${name}' (or 'transformer.${name}'), expected shape [${shape.join(', ')}]`);
    if (!sameShape(hit.t.shape, shape)) {
      throw new UsageError(`${hit.file}: tensor '${name}' has shape [${hit.t.shape.join(', ')}], expected [${shape.join(', ')}] for this config.json`);
    }
    params.set(name, hit.t);
  }
  // A tied model may still store lm_head.weight; it must then be the embedding itself.
  const head = tensors.get('lm_head.weight');
  if (head && config.tieWordEmbeddings) {
    const wte = params.get('wte.weight')!;
    if (!sameShape(head.t.shape, wte.shape) || head.t.data.some((v, i) => v !== wte.data[i])) {
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
  const params = gpt2ParamsFromTensors(config, readCheckpointTensors(modelDir), modelDir);
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
