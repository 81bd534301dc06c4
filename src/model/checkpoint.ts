/**
 * Hugging Face GPT-2 checkpoints: a model directory holds config.json and model.safetensors
 * (or shards listed in model.safetensors.index.json). Keys may carry the `transformer.` prefix
 * (GPT2LMHeadModel) or not (GPT2Model); we write them with it, as save_pretrained does.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { gpt2ConfigToJson, loadGPT2Config, type GPT2Config } from './config.js';
import { GPT2, gpt2ParamShapes } from './gpt2.js';
import { writeSafetensors, type TensorData } from './safetensors.js';
import { CheckpointReader } from './checkpoint-reader.js';

export { checkpointFiles } from './checkpoint-reader.js';

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

/** Where each parameter of a model comes from in a checkpoint. */
export interface ParamSource {
  /** Checkpoint key names to try, in order (e.g. with and without a prefix). */
  keys: string[];
  /** The parameter's shape in the model. */
  shape: number[];
  /** The checkpoint stores the transpose (nn.Linear [out, in] for a model that keeps [in, out]). */
  transpose?: boolean;
}

/**
 * Read every parameter of `wanted` (model name → source) from a checkpoint. Names and shapes are
 * checked on the headers first, so a config that does not describe these weights reads and
 * allocates nothing; then each tensor is read and converted on its own. `where` names the
 * checkpoint when a tensor is missing, the file when a shape is wrong.
 */
export function readParams(reader: CheckpointReader, wanted: Map<string, ParamSource>, where: string): Map<string, { shape: number[]; data: Float32Array }> {
  const keys = new Map<string, string>();
  for (const [name, src] of wanted) {
    const key = src.keys.find((k) => reader.has(k));
    const stored = src.transpose ? [...src.shape].reverse() : src.shape;
    if (key === undefined) {
      const also = src.keys.length > 1 ? ` (or ${src.keys.slice(1).map((k) => `'${k}'`).join(', ')})` : '';
      throw new UsageError(`${where}: missing tensor '${src.keys[0]}'${also}, expected shape [${stored.join(', ')}]`);
    }
    const e = reader.entry(key)!;
    if (!sameShape(e.shape, stored)) {
      throw new UsageError(`${e.file}: tensor '${key}' has shape [${e.shape.join(', ')}], expected [${stored.join(', ')}] for this config.json`);
    }
    keys.set(name, key);
  }
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, src] of wanted) out.set(name, { shape: src.shape, data: reader.read(keys.get(name)!, { transpose: src.transpose }) });
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Load a GPT-2 from a model directory (config.json + safetensors; keys with or without `transformer.`). */
export function loadGPT2(modelDir: string): GPT2 {
  const config = loadGPT2Config(modelDir);
  const reader = new CheckpointReader(modelDir);
  const wanted = new Map<string, ParamSource>();
  for (const [name, shape] of gpt2ParamShapes(config)) {
    wanted.set(name, { keys: name === 'lm_head.weight' ? [name] : [name, `transformer.${name}`], shape });
  }
  // A tied model may still store lm_head.weight; it must then be the embedding itself.
  const head = config.tieWordEmbeddings ? reader.entry('lm_head.weight') : undefined;
  if (head && !sameShape(head.shape, [config.vocabSize, config.nEmbd]))
    throw new UsageError(`${head.file}: tensor 'lm_head.weight' has shape [${head.shape.join(', ')}], but config.json has tie_word_embeddings: true (it must equal 'wte.weight')`);
  const params = readParams(reader, wanted, modelDir);
  if (head) {
    const wte = params.get('wte.weight')!;
    if (reader.read('lm_head.weight').some((v, i) => v !== wte.data[i])) {
      throw new UsageError(`${head.file}: tensor 'lm_head.weight' differs from 'wte.weight', but config.json has tie_word_embeddings: true`);
    }
  }
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
