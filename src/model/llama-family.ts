/**
 * The Llama family (model_type `llama`, `mistral`, `qwen2`) in the family registry: `model.`
 * keys, nn.Linear weights [out, in] (transposed once on load), PEFT's default targets q_proj and
 * v_proj (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for llama, mistral and qwen2).
 */
import type { ModelFamily } from './model-family.js';
import { CheckpointReader } from './checkpoint-reader.js';
import { readParams, type ParamSource } from './checkpoint.js';
import { checkImpliedParams, ConfigFields, elementCount } from './config-fields.js';
import { LLAMA_MODEL_TYPES, parseLlamaConfig } from './llama-config.js';
import { Llama, llamaInfo, llamaParams } from './llama.js';
import { join } from 'node:path';

/** Load a Llama-family model directory (config.json + single or sharded safetensors, F32/F16/BF16). */
export function loadLlama(dir: string): Llama {
  const file = join(dir, 'config.json');
  const config = parseLlamaConfig(ConfigFields.read(file).raw, file);
  const reader = new CheckpointReader(dir);
  const wanted = new Map<string, ParamSource>();
  for (const [name, p] of llamaParams(config)) {
    wanted.set(name, { keys: name === 'lm_head.weight' ? [name] : [`model.${name}`, name], shape: p.shape, transpose: p.linear });
  }
  const declared = reader.names().reduce((n, k) => n + elementCount(reader.entry(k)!.shape), 0);
  checkImpliedParams(file, [...wanted.values()].map((w) => w.shape), declared, reader.files.length > 1 ? `the ${reader.files.length} shards` : reader.files[0]);
  return Llama.fromArrays(config, readParams(reader, wanted, dir));
}

export const llamaFamily: ModelFamily = {
  name: 'llama',
  modelTypes: LLAMA_MODEL_TYPES,
  architectures: { LlamaForCausalLM: 'llama', MistralForCausalLM: 'mistral', Qwen2ForCausalLM: 'qwen2' },
  // Qualified names, and PEFT's bare ones (`target_modules: ["q_proj", "v_proj"]`), which match by suffix.
  targetModules: [
    'self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj',
    'q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj',
  ],
  defaultTargets: ['self_attn.q_proj', 'self_attn.v_proj'],
  peft: { keyPrefix: 'base_model.model.model.', fanInFanOut: false },
  readInfo: (raw, file) => llamaInfo(parseLlamaConfig(raw, file)),
  load: loadLlama,
};
