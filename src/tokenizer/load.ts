/**
 * Load a model directory's tokenizer (tokenizer.json + optional tokenizer_config.json) through
 * transformers.js, from local files only.
 *
 * No network, by construction: this module reads both files itself and hands the parsed JSON to
 * transformers.js's `PreTrainedTokenizer` constructor (the class named by `tokenizer_class`, as
 * `AutoTokenizer` would pick), so no hub/download code path is ever entered; a missing
 * tokenizer.json returns undefined before transformers.js is even imported.
 * `env.allowRemoteModels` is also switched off for anything else in the process.
 *
 * transformers.js is imported lazily (first load only; ~0.15 s and ~40 MB, since it also loads
 * onnxruntime-node and sharp). If that import fails (a platform without those native
 * binaries), the tokenizer engine transformers.js itself wraps, @huggingface/tokenizers, is used
 * directly: `PreTrainedTokenizer.encode/decode` only forward to it, so ids are the same.
 *
 * encode() is plain text → ids (add_special_tokens: false); the data pipeline puts `prefixIds`
 * before a prompt and appends EOS itself. `prefixIds` is [BOS] when tokenizer_config.json's
 * add_bos_token is true, [] when it is false, and otherwise what the tokenizer.json
 * post_processor puts in front (Llama 2 / Mistral / Llama 3 files add BOS there; GPT-2 and Qwen2
 * add nothing). Special-token text such as "<|endoftext|>" inside the input
 * is recognised as that one token, as in Hugging Face. decode() keeps special tokens.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { readJsonFile } from '../util/text-file.js';

export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Embedding rows needed: highest id + 1. */
  vocabSize: number;
  eosTokenId?: number;
  bosTokenId?: number;
  /** From tokenizer_config.json pad_token, else EOS (transformers.js's fallback). */
  padTokenId?: number;
  /** Ids every prompt starts with (BOS for Llama-style tokenizers, none for GPT-2's). */
  prefixIds?: number[];
}

export type TokenizerEngine = 'transformers' | 'tokenizers';

export interface LoadedTokenizer extends Tokenizer {
  /** Which library encodes: transformers.js, or (its import failed) @huggingface/tokenizers. */
  readonly engine: TokenizerEngine;
}

/** What both engines give for one parsed tokenizer. */
interface Core {
  encode(text: string, addSpecialTokens: boolean): number[];
  decode(ids: number[]): string;
  vocab: Map<string, number>;
  tokenId(role: 'eos_token' | 'bos_token' | 'pad_token'): number | undefined;
}

type Build = (tokenizerJson: object, config: Record<string, unknown>) => Core;

export async function loadTokenizer(
  modelDir: string,
  opts: { engine?: TokenizerEngine } = {},
): Promise<LoadedTokenizer | undefined> {
  const jsonPath = join(modelDir, 'tokenizer.json');
  if (!isFile(jsonPath)) return undefined;
  const tokenizerJson = readJsonObject(jsonPath);
  const configPath = join(modelDir, 'tokenizer_config.json');
  const config = isFile(configPath) ? readJsonObject(configPath) : {};

  const engine = opts.engine ?? (await defaultEngine());
  const build = engine === 'transformers' ? await transformersBuild() : await tokenizersBuild();
  let core: Core;
  try {
    core = refuseWarnings(() => build(tokenizerJson, config));
  } catch (err) {
    throw new UsageError(`${jsonPath}: not a usable tokenizer: ${(err as Error).message}`);
  }
  let maxId = -1;
  for (const id of core.vocab.values()) maxId = Math.max(maxId, id);
  const bos = core.tokenId('bos_token');
  return {
    engine,
    // A tokenizer.json that builds but fails on use (a broken normalizer or decoder) is the file's fault.
    encode: (text) => unusable(jsonPath, 'encode', () => core.encode(text, false)),
    decode: (ids) => (ids.length === 0 ? '' : unusable(jsonPath, 'decode', () => core.decode(ids))),
    vocabSize: maxId + 1,
    eosTokenId: core.tokenId('eos_token'),
    bosTokenId: core.tokenId('bos_token'),
    padTokenId: core.tokenId('pad_token') ?? core.tokenId('eos_token'),
    prefixIds: unusable(jsonPath, 'encode', () => prefixIds(core, config, bos)),
  };
}

/** What goes before a prompt: add_bos_token decides when it is set, else the post_processor. */
function prefixIds(core: Core, config: Record<string, unknown>, bos: number | undefined): number[] {
  if (typeof config.add_bos_token === 'boolean') return config.add_bos_token && bos !== undefined ? [bos] : [];
  const plain = core.encode('a', false);
  const full = core.encode('a', true);
  const at = full.length - plain.length;
  // The post_processor's leading special tokens (a template "$A" with nothing before adds none).
  return at > 0 && plain.every((id, i) => full[at + i] === id) ? full.slice(0, at) : [];
}

/**
 * Build with console.warn captured: the tokenizer libraries warn instead of failing when a file
 * is malformed ("Unknown pattern type", after which text encodes to nothing) or when a class only
 * approximates its tokenizer ("may experience slightly inaccurate results"). Either way the ids
 * would be silently wrong, so a warning is an error here.
 */
function refuseWarnings<T>(f: () => T): T {
  const warn = console.warn;
  const said: string[] = [];
  console.warn = (...args: unknown[]) => void said.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a) ?? String(a))).join(' '));
  let out: T;
  try {
    out = f();
  } finally {
    console.warn = warn;
  }
  if (said.length > 0) throw new Error(`the tokenizer library warns: ${said[0].slice(0, 200)}`);
  return out;
}

function unusable<T>(file: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new UsageError(`${file}: the tokenizer cannot ${what}: ${(err as Error).message}`);
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function readJsonObject(path: string): Record<string, unknown> {
  const value = readJsonFile(path, 'tokenizer file');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${path}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

let engineChoice: Promise<TokenizerEngine> | undefined;

/** transformers.js when it imports on this machine, else @huggingface/tokenizers. */
function defaultEngine(): Promise<TokenizerEngine> {
  engineChoice ??= import('@huggingface/transformers').then(
    () => 'transformers' as const,
    () => 'tokenizers' as const,
  );
  return engineChoice;
}

async function transformersBuild(): Promise<Build> {
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  const classes = tf as unknown as Record<string, unknown>;
  return (tokenizerJson, config) => {
    // AutoTokenizer's choice, minus its file loading.
    const name = typeof config.tokenizer_class === 'string' ? config.tokenizer_class.replace(/Fast$/, '') : '';
    const named = classes[name];
    const Cls =
      typeof named === 'function' && named.prototype instanceof tf.PreTrainedTokenizer
        ? (named as typeof tf.PreTrainedTokenizer)
        : tf.PreTrainedTokenizer;
    const tk = new Cls(tokenizerJson, config);
    const ids = { eos_token: tk.eos_token_id, bos_token: tk.bos_token_id, pad_token: tk.pad_token_id };
    return {
      encode: (text, addSpecialTokens) => tk.encode(text, { add_special_tokens: addSpecialTokens }),
      decode: (ids) => tk.decode(ids),
      vocab: tk.get_vocab(),
      // transformers.js already falls back from pad to eos; loadTokenizer does the same for both.
      tokenId: (role) => ids[role] ?? undefined,
    };
  };
}

async function tokenizersBuild(): Promise<Build> {
  const { Tokenizer: HfTokenizer } = await import('@huggingface/tokenizers');
  return (tokenizerJson, config) => {
    const tk = new HfTokenizer(tokenizerJson, config);
    return {
      encode: (text, addSpecialTokens) => tk.encode(text, { add_special_tokens: addSpecialTokens }).ids,
      decode: (ids) => tk.decode(ids),
      vocab: tk.get_vocab(),
      tokenId: (role) => {
        const v = config[role];
        // A token in tokenizer_config.json is a string or an AddedToken object.
        const content = typeof v === 'string' ? v : (v as { content?: unknown } | null)?.content;
        return typeof content === 'string' ? tk.token_to_id(content) : undefined;
      },
    };
  };
}
