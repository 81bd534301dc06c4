/**
 * Adapters on disk in PEFT's format, so any PEFT user can load them:
 *   adapter_config.json          PEFT LoraConfig (peft_type LORA, r, lora_alpha, target_modules, ...)
 *   adapter_model.safetensors    <prefix><layer>.lora_A.weight [r, in]
 *                                <prefix><layer>.lora_B.weight [out, r]
 * where the model family gives the prefix (PeftNaming: `base_model.model.transformer.` for
 * GPT-2, `base_model.model.model.` for the Llama family) and fan_in_fan_out (true only for
 * GPT-2's Conv1D weights).
 * A CoLoRA client's adapter is written as the equivalent plain LoRA (lora_B = B·S_i), plus
 *   colora_adapter.safetensors   the factors themselves: lora_A, lora_B (shared) and colora_S (personal)
 *   colora_config.json           {"personal": true, ...}
 * so colora reloads the exact factors and PEFT loads the merged adapter.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type TensorData } from '../model/safetensors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { ConfigFields } from '../model/config-fields.js';
import type { AdapterConfig } from './config.js';
import { mergePersonal, type AdapterState, type LayerFactors } from './state.js';
import { InjectedAdapter, type AdaptableModel } from './inject.js';
import type { PeftNaming } from '../model/families.js';

export interface SavedAdapter {
  config: AdapterConfig;
  state: AdapterState;
}

function peftConfigJson(cfg: AdapterConfig, baseModel: string, naming: PeftNaming): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: cfg.rank,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout,
    target_modules: cfg.targets,
    fan_in_fan_out: naming.fanInFanOut,
    bias: 'none',
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    use_rslora: false,
    use_dora: false,
  };
}

function dims(f: LayerFactors, rank: number): { inF: number; outF: number } {
  return { inF: f.A.length / rank, outF: f.B.length / rank };
}

export function saveAdapter(dir: string, cfg: AdapterConfig, state: AdapterState, baseModel: string, naming: PeftNaming): void {
  const r = cfg.rank;
  const PREFIX = naming.keyPrefix;
  const merged = new Map<string, TensorData>();
  const factors = new Map<string, TensorData>();
  for (const [name, f] of state) {
    const { inF, outF } = dims(f, r);
    const B = cfg.personal ? mergePersonal(f.B, f.S!, r) : f.B;
    merged.set(`${PREFIX}${name}.lora_A.weight`, { shape: [r, inF], data: f.A });
    merged.set(`${PREFIX}${name}.lora_B.weight`, { shape: [outF, r], data: B });
    if (cfg.personal) {
      factors.set(`${PREFIX}${name}.lora_A.weight`, { shape: [r, inF], data: f.A });
      factors.set(`${PREFIX}${name}.lora_B.weight`, { shape: [outF, r], data: f.B });
      factors.set(`${PREFIX}${name}.colora_S.weight`, { shape: [r, r], data: f.S! });
    }
  }
  writeSafetensors(join(dir, 'adapter_model.safetensors'), merged, { format: 'pt' });
  if (cfg.personal) {
    writeSafetensors(join(dir, 'colora_adapter.safetensors'), factors, { format: 'pt' });
    writeJsonAtomic(join(dir, 'colora_config.json'), { personal: true, factors: 'colora_adapter.safetensors', delta: '(lora_alpha/r) * B @ S @ A' });
  }
  writeJsonAtomic(join(dir, 'adapter_config.json'), peftConfigJson(cfg, baseModel, naming));
}

function layerName(key: string, suffix: string): string | undefined {
  if (!key.endsWith(suffix)) return undefined;
  let name = key.slice(0, -suffix.length);
  // PEFT's wrapper prefix, then the checkpoint's (GPT-2 `transformer.`, Llama family `model.`).
  for (const p of ['base_model.model.', 'transformer.', 'model.']) if (name.startsWith(p)) name = name.slice(p.length);
  return name;
}

/** Largest LoRA rank a saved adapter may declare (far above any useful rank; below what breaks an allocation). */
export const MAX_ADAPTER_RANK = 65536;

export function loadAdapter(dir: string): SavedAdapter {
  const cfgFile = join(dir, 'adapter_config.json');
  if (!existsSync(cfgFile)) throw new UsageError(`${dir}: not an adapter directory (no adapter_config.json)`);
  const f = ConfigFields.read(cfgFile);
  const raw = f.raw;
  if (raw.peft_type !== 'LORA') throw f.error('peft_type', `expected "LORA", got ${JSON.stringify(raw.peft_type)}`);
  const rank = f.posInt('r', MAX_ADAPTER_RANK);
  const alpha = f.float('lora_alpha', { min: 0, exclusiveMin: true, max: 1e6 });
  const dropout = f.float('lora_dropout', { min: 0, max: 1, exclusiveMax: true, fallback: 0 });
  const tm = raw.target_modules;
  const targets = typeof tm === 'string' ? [tm] : Array.isArray(tm) && tm.length > 0 && tm.every((t) => typeof t === 'string' && t !== '') ? (tm as string[]) : undefined;
  if (!targets) throw f.error('target_modules', `expected a module name or a non-empty list of module names, got ${JSON.stringify(tm)}`);
  const personal = existsSync(join(dir, 'colora_adapter.safetensors'));
  const file = join(dir, personal ? 'colora_adapter.safetensors' : 'adapter_model.safetensors');
  const tensors = readSafetensors(file);
  const state: AdapterState = new Map();
  const get = (name: string) => {
    let f = state.get(name);
    if (!f) state.set(name, (f = { A: new Float32Array(0), B: new Float32Array(0) }));
    return f;
  };
  for (const [key, t] of tensors) {
    for (const [suffix, factor] of [['.lora_A.weight', 'A'], ['.lora_B.weight', 'B'], ['.colora_S.weight', 'S']] as const) {
      const name = layerName(key, suffix) ?? layerName(key, suffix.replace('.weight', '.default.weight'));
      if (name === undefined) continue;
      const expectCols = factor === 'B' ? rank : undefined;
      if (t.shape.length !== 2 || (factor !== 'B' && t.shape[0] !== rank) || (expectCols !== undefined && t.shape[1] !== expectCols))
        throw new UsageError(`${file}: tensor ${key} has shape [${t.shape.join(', ')}], which does not fit rank ${rank}`);
      get(name)[factor] = t.data;
    }
  }
  for (const [name, f] of state) {
    if (f.A.length === 0 || f.B.length === 0) throw new UsageError(`${file}: layer ${name} lacks lora_A or lora_B`);
    if (personal && !f.S) throw new UsageError(`${file}: layer ${name} lacks colora_S`);
  }
  if (state.size === 0) throw new UsageError(`${file}: no LoRA tensors found`);
  return { config: { rank, alpha, targets, dropout, personal }, state };
}

/** `colora generate --adapter DIR`: load a PEFT adapter and put it on the model. */
export function applyAdapterDir(model: AdaptableModel, dir: string): InjectedAdapter {
  const { config, state } = loadAdapter(dir);
  const names = new Set(model.linears().map((l) => l.name));
  for (const name of state.keys())
    if (!names.has(name)) throw new UsageError(`${dir}: adapter layer ${name} is not a linear layer of this model`);
  const cfg = { ...config, targets: [...state.keys()] };
  return new InjectedAdapter(model, cfg, state, dir);
}
