/**
 * What every command that runs a model needs once per process: the compute backend, the frozen
 * base model and its tokenizer. A sweep loads these once and reuses them for every cell.
 */
import type { BackendName } from '../config/schema.js';
import { initBackend } from '../engine/backend.js';
import { loadGPT2 } from '../model/checkpoint.js';
import type { GPT2 } from '../model/gpt2.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/load.js';
import { UsageError } from '../util/errors.js';
import type { Encoder } from './prepare-data.js';

export interface ModelSession {
  backend: string;
  modelDir: string;
  model: GPT2;
  tokenizer: Tokenizer;
  eosId: number;
  padId: number;
}

export async function openSession(modelDir: string, backend: BackendName): Promise<ModelSession> {
  const chosen = await initBackend(backend);
  const tokenizer = await loadTokenizer(modelDir);
  if (!tokenizer) throw new UsageError(`${modelDir}: no tokenizer.json; training and evaluation on text need the model's tokenizer`);
  const model = loadGPT2(modelDir);
  const eosId = model.config.eosTokenId ?? tokenizer.eosTokenId;
  if (eosId === undefined) throw new UsageError(`${modelDir}: neither tokenizer_config.json nor config.json names an end-of-sequence token`);
  if (tokenizer.vocabSize > model.config.vocabSize)
    throw new UsageError(`${modelDir}: tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.config.vocabSize}`);
  return { backend: chosen.name, modelDir, model, tokenizer, eosId, padId: tokenizer.padTokenId ?? eosId };
}

/** What data preparation needs from a session. */
export function encoderOf(s: Pick<ModelSession, 'model' | 'tokenizer' | 'eosId'>): Encoder {
  return { tokenizer: s.tokenizer, eosId: s.eosId, nPositions: s.model.config.nPositions };
}
