/**
 * What a model family is (the registry in families.ts lists them): a leaf module, so each
 * family's file and the registry import it without importing each other.
 */
import type { CausalLM, ModelInfo } from './causal-lm.js';

/** How PEFT names a family's adapter tensors and which weight layout it declares. */
export interface PeftNaming {
  /** Prefix of every adapter key before our layer name, e.g. `base_model.model.model.`. */
  keyPrefix: string;
  /** PEFT's fan_in_fan_out: true when the base weights are stored [in, out] (GPT-2's Conv1D). */
  fanInFanOut: boolean;
}

export interface ModelFamily {
  /** Registry name, e.g. 'llama'. */
  name: string;
  /** config.json model_type values this family reads. */
  modelTypes: readonly string[];
  /** transformers' class names (config.json `architectures`) → their model_type, for messages. */
  architectures: Readonly<Record<string, string>>;
  /** Every target-module suffix an adapter may name for this family (PEFT's module names). */
  targetModules: readonly string[];
  /** PEFT's default target_modules for the family, used when a config gives none. */
  defaultTargets: readonly string[];
  peft: PeftNaming;
  /** Validate config.json (parsed; `file` is named in every error) into what callers need to know. */
  readInfo(raw: Record<string, unknown>, file: string): ModelInfo;
  /** Load the model of a directory (config.json + safetensors). */
  load(dir: string): CausalLM;
}
