/**
 * GPT-2 hyper-parameters, read from (and written as) a Hugging Face `config.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, located } from '../util/errors.js';

export interface GPT2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP hidden width (HF `n_inner`; null there means 4 * n_embd). */
  nInner: number;
  /** Only the tanh GELU is supported; the HF name is kept so a written config round-trips. */
  activation: 'gelu_new' | 'gelu_pytorch_tanh';
  layerNormEpsilon: number;
  bosTokenId?: number;
  /** First of the config's end-of-sequence ids (HF allows a list). */
  eosTokenId?: number;
  tieWordEmbeddings: boolean;
}

const TANH_GELUS = ['gelu_new', 'gelu_pytorch_tanh'] as const;

/** Validate a parsed config.json; `file` is named in every error. */
export function parseGPT2Config(raw: unknown, file: string): GPT2Config {
  const bad = (key: string, what: string) => new UsageError(located(file, undefined, key, what));
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`${file}: expected a JSON object`);
  const c = raw as Record<string, unknown>;

  if (c.model_type !== 'gpt2') {
    const got = c.model_type === undefined ? 'it is missing' : `got ${JSON.stringify(c.model_type)}`;
    throw bad('model_type', `expected "gpt2" (the only architecture colora supports), ${got}`);
  }
  const posInt = (key: string): number => {
    const v = c[key];
    if (v === undefined) throw bad(key, 'missing; expected a positive integer');
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(key, `expected a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const tokenId = (key: string): number | undefined => {
    let v = c[key];
    if (Array.isArray(v)) v = v[0];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(key, `expected a token id (non-negative integer), got ${JSON.stringify(c[key])}`);
    return v;
  };

  const vocabSize = posInt('vocab_size');
  const nPositions = posInt('n_positions');
  const nEmbd = posInt('n_embd');
  const nLayer = posInt('n_layer');
  const nHead = posInt('n_head');
  if (nEmbd % nHead !== 0) throw bad('n_head', `n_embd (${nEmbd}) must be divisible by n_head (${nHead})`);
  const nInner = c.n_inner === undefined || c.n_inner === null ? 4 * nEmbd : posInt('n_inner');

  const act = c.activation_function ?? 'gelu_new';
  if (!TANH_GELUS.includes(act as never)) {
    throw bad('activation_function', `expected one of ${TANH_GELUS.join(', ')} (tanh GELU), got ${JSON.stringify(act)}`);
  }
  const eps = c.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw bad('layer_norm_epsilon', `expected a positive number, got ${JSON.stringify(eps)}`);
  const tie = c.tie_word_embeddings ?? true;
  if (typeof tie !== 'boolean') throw bad('tie_word_embeddings', `expected true or false, got ${JSON.stringify(tie)}`);

  // Variants of the attention that this implementation does not compute.
  if (c.scale_attn_weights === false) throw bad('scale_attn_weights', 'only true (the GPT-2 default) is supported');
  if (c.scale_attn_by_inverse_layer_idx === true) throw bad('scale_attn_by_inverse_layer_idx', 'only false (the GPT-2 default) is supported');

  const config: GPT2Config = {
    vocabSize, nPositions, nEmbd, nLayer, nHead, nInner,
    activation: act as GPT2Config['activation'],
    layerNormEpsilon: eps,
    tieWordEmbeddings: tie,
  };
  const bos = tokenId('bos_token_id');
  const eos = tokenId('eos_token_id');
  if (bos !== undefined) config.bosTokenId = bos;
  if (eos !== undefined) config.eosTokenId = eos;
  return config;
}

/** Read `<modelDir>/config.json`. */
export function loadGPT2Config(modelDir: string): GPT2Config {
  const file = join(modelDir, 'config.json');
  if (!existsSync(file)) throw new UsageError(`${file}: not found (a model directory needs a Hugging Face config.json)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseGPT2Config(raw, file);
}

/** The config as Hugging Face writes it for GPT2LMHeadModel. */
export function gpt2ConfigToJson(c: GPT2Config): Record<string, unknown> {
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: c.nInner === 4 * c.nEmbd ? null : c.nInner,
    activation_function: c.activation,
    layer_norm_epsilon: c.layerNormEpsilon,
    bos_token_id: c.bosTokenId ?? null,
    eos_token_id: c.eosTokenId ?? null,
    tie_word_embeddings: c.tieWordEmbeddings,
  };
}
