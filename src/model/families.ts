/**
 * The registry of model families, keyed by config.json's `model_type`. A family owns everything
 * that differs between architectures: config parsing, checkpoint tensor names, the adaptable
 * linear layers and PEFT's default targets and naming. The rest of colora goes through
 * `loadModel` / `familyOf` and the CausalLM interface. Adding a family: one file that exports a
 * ModelFamily (model-family.ts; see gpt2-family.ts, llama-family.ts) and one line in FAMILIES below.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, located } from '../util/errors.js';
import { ConfigFields } from './config-fields.js';
import type { CausalLM, ModelInfo } from './causal-lm.js';
import type { ModelFamily, PeftNaming } from './model-family.js';
import { gpt2Family } from './gpt2-family.js';
import { llamaFamily } from './llama-family.js';

export type { ModelFamily, PeftNaming };

export const FAMILIES: readonly ModelFamily[] = [gpt2Family, llamaFamily];

/** Every model_type colora reads. */
export function supportedModelTypes(): string[] {
  return FAMILIES.flatMap((f) => [...f.modelTypes]);
}

/** The union of the families' target modules (the config schema's list). */
export function allTargetModules(): string[] {
  return [...new Set(FAMILIES.flatMap((f) => [...f.targetModules]))];
}

/** `<dir>/config.json`, parsed (config-fields.ts: strict UTF-8, size-bounded); `file` is its path. */
export function readConfigJson(dir: string): { raw: Record<string, unknown>; file: string } {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new UsageError(`${file}: not found (a model directory needs a Hugging Face config.json)`);
  return { raw: ConfigFields.read(file).raw, file };
}

/** The family of a parsed config.json, by model_type (exit 2 naming the supported ones). */
export function familyFor(raw: Record<string, unknown>, file: string): ModelFamily {
  const type = raw.model_type;
  const family = FAMILIES.find((f) => f.modelTypes.includes(type as string));
  if (family) return family;
  let got = type === undefined ? 'it is missing' : `got ${JSON.stringify(type)}`;
  // Hugging Face's class name says which model_type a config without one meant.
  const arch = Array.isArray(raw.architectures) ? String(raw.architectures[0]) : undefined;
  const meant = arch && FAMILIES.map((f) => f.architectures[arch]).find((m) => m !== undefined);
  if (type === undefined && meant) got += ` (architectures names ${arch}: add "model_type": "${meant}")`;
  throw new UsageError(located(file, undefined, 'model_type', `expected one of ${supportedModelTypes().map((t) => JSON.stringify(t)).join(', ')} (the architectures colora supports), ${got}`));
}

/** The family of a model directory. */
export function familyOf(dir: string): ModelFamily {
  const { raw, file } = readConfigJson(dir);
  return familyFor(raw, file);
}

/** A model directory's ModelInfo from config.json alone (no weights read). */
export function modelInfo(dir: string): ModelInfo {
  const { raw, file } = readConfigJson(dir);
  return familyFor(raw, file).readInfo(raw, file);
}

/** Load a model directory, whatever its family. */
export function loadModel(dir: string): { model: CausalLM; family: ModelFamily } {
  const family = familyOf(dir);
  return { model: family.load(dir), family };
}
