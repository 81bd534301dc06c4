/**
 * What every command that runs a model needs once per process: the compute backend, the frozen
 * base model (any family, through the CausalLM interface) and its tokenizer. A sweep loads these
 * once and reuses them for every cell.
 */
import type { BackendName } from '../config/schema.js';
import { initBackend } from '../engine/backend.js';
import type { CausalLM } from '../model/causal-lm.js';
import { loadModel, type ModelFamily } from '../model/families.js';
import { endOfSequence } from '../model/generation-config.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/load.js';
import { UsageError } from '../util/errors.js';
import type { Encoder } from './prepare-data.js';

export interface ModelSession {
  backend: string;
  modelDir: string;
  model: CausalLM;
  /** The model's family: adapters are saved with its PEFT naming. */
  family: ModelFamily;
  tokenizer: Tokenizer;
  /** Appended to every training target. */
  eosId: number;
  /** Generation stops at any of these (eosId and generation_config.json's end-of-sequence ids). */
  stopIds: number[];
  padId: number;
}

export async function openSession(modelDir: string, backend: BackendName): Promise<ModelSession> {
  const chosen = await initBackend(backend);
  const tokenizer = await loadTokenizer(modelDir);
  if (!tokenizer) throw new UsageError(`${modelDir}: no tokenizer.json; training and evaluation on text need the model's tokenizer`);
  const { model, family } = loadModel(modelDir);
  const { eosId, stopIds } = endOfSequence(modelDir, model.info, tokenizer.eosTokenId);
  if (eosId === undefined) throw new UsageError(`${modelDir}: neither tokenizer_config.json nor config.json names an end-of-sequence token`);
  if (tokenizer.vocabSize > model.info.vocabSize)
    throw new UsageError(`${modelDir}: tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.info.vocabSize}`);
  return { backend: chosen.name, modelDir, model, family, tokenizer, eosId, stopIds, padId: tokenizer.padTokenId ?? eosId };
}

/** What data preparation needs from a session. */
export function encoderOf(s: Pick<ModelSession, 'model' | 'tokenizer' | 'eosId'>): Encoder {
  return { tokenizer: s.tokenizer, eosId: s.eosId, nPositions: s.model.info.contextLength };
}
