/**
 * A model directory's `generation_config.json` (optional): the end-of-sequence ids Hugging Face's
 * generate() stops at (a number or a list). Llama 3 style models list several (e.g. <|end_of_text|>
 * and <|eot_id|>), and they may differ from config.json's.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigFields } from './config-fields.js';
import type { ModelInfo } from './causal-lm.js';

export interface GenerationConfig {
  eosTokenIds?: number[];
  bosTokenId?: number;
}

export function readGenerationConfig(dir: string, vocabSize: number): GenerationConfig {
  const file = join(dir, 'generation_config.json');
  if (!existsSync(file)) return {};
  const f = ConfigFields.read(file);
  const out: GenerationConfig = {};
  const eos = f.tokenIds('eos_token_id', vocabSize);
  const bos = f.tokenId('bos_token_id', vocabSize);
  if (eos) out.eosTokenIds = eos;
  if (bos !== undefined) out.bosTokenId = bos;
  return out;
}

/**
 * The end-of-sequence ids of a model directory: `eosId` is the one training appends to targets
 * (config.json's first, else the tokenizer's), `stopIds` every id generation stops at
 * (generation_config.json's, config.json's and eosId).
 */
export function endOfSequence(dir: string, info: ModelInfo, tokenizerEos?: number): { eosId?: number; stopIds: number[] } {
  const eosId = info.eosTokenIds[0] ?? tokenizerEos;
  const gen = readGenerationConfig(dir, info.vocabSize);
  const stopIds = [...new Set([...(gen.eosTokenIds ?? []), ...info.eosTokenIds, ...(eosId !== undefined ? [eosId] : [])])];
  return { ...(eosId !== undefined ? { eosId } : {}), stopIds };
}
