/**
 * A tiny model directory for end-to-end tests: a byte-level BPE tokenizer trained on a few
 * built-in prompts and a randomly initialised 2-layer GPT-2, in Hugging Face layout.
 */
import { join } from 'node:path';
import { builtinTask } from '../../src/data/builtin/registry.js';
import { buildPrompt } from '../../src/data/prompt.js';
import { trainBpeTokenizer } from '../../src/tokenizer/train-bpe.js';
import { saveTokenizer } from '../../src/tokenizer/save.js';
import { GPT2 } from '../../src/model/gpt2.js';
import { initGPT2Arrays } from '../../src/model/init.js';
import { saveGPT2 } from '../../src/model/checkpoint.js';
import { tempDir } from './temp.js';

/** `nPositions` (default 256) sets the context length, e.g. small to make outputs hit it. */
export async function makeTinyModelDir(opts: { nPositions?: number } = {}): Promise<string> {
  const dir = tempDir('colora-tiny-model-');
  const texts: string[] = [];
  for (const name of ['task205_remove_even_elements', 'task369_synthetic_remove_odds', 'task376_reverse_order_of_words']) {
    const t = builtinTask(name, { instances: 40, seed: 5 });
    for (const inst of t.instances) texts.push(buildPrompt(t, inst, { definition: true, positiveExamples: 0 }) + inst.output[0] + '<|endoftext|>');
  }
  const trained = trainBpeTokenizer(texts, { vocabSize: 400, specialTokens: ['<|endoftext|>'], modelMaxLength: 256 });
  saveTokenizer(dir, trained);
  const vocabSize = Object.keys(trained.tokenizerJson.model.vocab).length;
  const config = {
    vocabSize, nPositions: opts.nPositions ?? 256, nEmbd: 32, nLayer: 2, nHead: 2, nInner: 128,
    activation: 'gelu_new' as const, layerNormEpsilon: 1e-5, tieWordEmbeddings: true, eosTokenId: 0, bosTokenId: 0,
  };
  const model = GPT2.fromArrays(config, initGPT2Arrays(config, 0));
  await saveGPT2(model, dir);
  model.dispose();
  return dir;
}
