/** GPT-2 (model_type `gpt2`) in the family registry: Conv1D weights [in, out], `transformer.` keys. */
import type { ModelFamily } from './model-family.js';
import { loadGPT2 } from './checkpoint.js';
import { parseGPT2Config } from './config.js';
import { gpt2Info } from './gpt2.js';

export const gpt2Family: ModelFamily = {
  name: 'gpt2',
  modelTypes: ['gpt2'],
  architectures: { GPT2LMHeadModel: 'gpt2', GPT2Model: 'gpt2' },
  // PEFT's bare module names work too (suffix match; `c_proj` is both projections).
  targetModules: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj', 'c_attn', 'c_proj', 'c_fc'],
  // PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING["gpt2"].
  defaultTargets: ['attn.c_attn'],
  peft: { keyPrefix: 'base_model.model.transformer.', fanInFanOut: true },
  readInfo: (raw, file) => gpt2Info(parseGPT2Config(raw, file)),
  load: loadGPT2,
};
