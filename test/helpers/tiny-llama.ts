/**
 * A tiny Llama-family model directory for end-to-end tests: a Llama 3 style tokenizer
 * (hf-tokenizers.ts) trained on a few built-in prompts and a randomly initialised 2-layer Llama
 * with grouped-query attention, written as Hugging Face does (`model.` keys, nn.Linear [out, in],
 * config.json, generation_config.json).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinTask } from '../../src/data/builtin/registry.js';
import { buildPrompt } from '../../src/data/prompt.js';
import { writeSafetensors, type TensorData } from '../../src/model/safetensors.js';
import { parseLlamaConfig } from '../../src/model/llama-config.js';
import { llamaParams } from '../../src/model/llama.js';
import { Rng } from '../../src/util/rng.js';
import { writeLlama3Tokenizer } from './hf-tokenizers.js';

export function makeTinyLlamaDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'colora-tiny-llama-'));
  const texts: string[] = [];
  for (const name of ['task205_remove_even_elements', 'task369_synthetic_remove_odds', 'task376_reverse_order_of_words']) {
    const t = builtinTask(name, { instances: 40, seed: 5 });
    for (const inst of t.instances) texts.push(buildPrompt(t, inst, { definition: true, positiveExamples: 0 }) + inst.output[0]);
  }
  const tok = writeLlama3Tokenizer(dir, texts, 400);
  const raw = {
    model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: tok.vocabSize, hidden_size: 32, intermediate_size: 64,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256, rms_norm_eps: 1e-5,
    rope_theta: 10000, hidden_act: 'silu', tie_word_embeddings: false, bos_token_id: tok.bos, eos_token_id: tok.eos,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(raw));
  const config = parseLlamaConfig(raw, 'config.json');
  const rng = Rng.derive(0, 'tiny-llama');
  const tensors = new Map<string, TensorData>();
  for (const [name, p] of llamaParams(config)) {
    const shape = p.linear ? [p.shape[1], p.shape[0]] : p.shape; // as nn.Linear stores it: [out, in]
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('norm.weight')) data.fill(1);
    else if (!name.endsWith('.bias')) rng.fillNormal(data, 0.02);
    tensors.set(name === 'lm_head.weight' ? name : `model.${name}`, { shape, data });
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return dir;
}
