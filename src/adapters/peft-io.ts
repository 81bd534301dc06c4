/**
 * Adapters on disk in PEFT's format, so any PEFT user can load them:
 *   adapter_config.json          PEFT LoraConfig (peft_type LORA, r, lora_alpha, target_modules, ...)
 *   adapter_model.safetensors    <prefix><layer>.lora_A.weight [r, in]
 *                                <prefix><layer>.lora_B.weight [out, r]
 * where the model family gives the prefix (PeftNaming: `base_model.model.transformer.` for
 * GPT-2, `base_model.model.model.` for the Llama family) and fan_in_fan_out (true only for
 * GPT-2's Conv1D weights).
 * Every adapter is written as the plain LoRA with the same update on the original base weights
 * (state.ts updateFactors): CoLoRA as lora_B = B·S_i; SVFit and LoLDU as B·diag(D); an adapter
 * with a frozen correction (PiSSA, and the decomposition starts) as PEFT's own PiSSA-to-LoRA
 * conversion does it: lora_A = [A; RA], lora_B = [B·…, −RB], r and lora_alpha doubled (rank r + k,
 * same alpha/r). Anything but a plain LoRA also gets
 *   colora_adapter.safetensors   the exact factors: lora_A, lora_B, colora_S, colora_D, colora_RA, colora_RB
 *   colora_config.json           {"personal", "kind", "core", ...}
 * so colora reloads the exact factors and PEFT loads the equivalent LoRA.
 * A FedDPA client's shared and personal LoRAs are written the same way as one plain LoRA of rank
 * 2r (lora_A = [A; PA], lora_B = [B, PB], lora_alpha = 2·alpha so alpha/r is unchanged): exact,
 * and the first r ranks are the shared adapter. A layer's frozen dense correction R (FedEx-LoRA)
 * is not a LoRA: it is written beside the adapter as
 *   colora_residual.safetensors  <prefix><layer>.residual.weight [out, in]
 * to be added to the base weight before loading the LoRA (W ← W + R for an nn.Linear [out, in];
 * W ← W + Rᵀ where fan_in_fan_out, GPT-2's Conv1D [in, out]); colora reloads it with the adapter.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type TensorData } from '../model/safetensors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { ConfigFields } from '../model/config-fields.js';
import type { PeftNaming } from '../model/families.js';
import { ADAPTER_KINDS, type AdapterConfig, type AdapterKind } from './config.js';
import { updateFactors, type AdapterState, type LayerFactors } from './state.js';
import { InjectedAdapter, type AdaptableModel } from './inject.js';

const RESIDUAL_FILE = 'colora_residual.safetensors';

export interface SavedAdapter {
  config: AdapterConfig;
  state: AdapterState;
}

function peftConfigJson(cfg: AdapterConfig, baseModel: string, naming: PeftNaming, rank: number): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: rank,
    lora_alpha: (cfg.alpha * rank) / cfg.rank,
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

/** An adapter that plain LoRA files cannot hold exactly: CoLoRA, another kind, or a frozen correction. */
function needsExactFactors(cfg: AdapterConfig, state: AdapterState): boolean {
  return cfg.personal || (cfg.kind ?? 'lora') !== 'lora' || [...state.values()].some((f) => f.RA || f.D);
}

const EXTRA: readonly ['S' | 'D' | 'RA' | 'RB', string][] = [['S', 'colora_S'], ['D', 'colora_D'], ['RA', 'colora_RA'], ['RB', 'colora_RB']];

export function saveAdapter(dir: string, cfg: AdapterConfig, state: AdapterState, baseModel: string, naming: PeftNaming): void {
  const r = cfg.rank;
  const PREFIX = naming.keyPrefix;
  const exact = needsExactFactors(cfg, state);
  const merged = new Map<string, TensorData>();
  const factors = new Map<string, TensorData>();
  const residuals = new Map<string, TensorData>();
  let peftRank = 0;
  for (const [name, f] of state) {
    const { inF, outF } = dims(f, r);
    if (cfg.residual) residuals.set(`${PREFIX}${name}.residual.weight`, { shape: [outF, inF], data: f.R! });
    const { P, Q, m } = updateFactors(f, r);
    if (peftRank === 0) peftRank = m;
    if (m !== peftRank) throw new Error(`saveAdapter: layer ${name} has rank ${m}, another ${peftRank} (PEFT takes one r)`);
    merged.set(`${PREFIX}${name}.lora_A.weight`, { shape: [m, inF], data: Q });
    merged.set(`${PREFIX}${name}.lora_B.weight`, { shape: [outF, m], data: P });
    if (exact) {
      factors.set(`${PREFIX}${name}.lora_A.weight`, { shape: [r, inF], data: f.A });
      factors.set(`${PREFIX}${name}.lora_B.weight`, { shape: [outF, r], data: f.B });
      for (const [k, key] of EXTRA) {
        const v = f[k];
        if (!v) continue;
        const shape = k === 'S' ? (v.length === r ? [r] : [r, r]) : k === 'D' ? [r] : k === 'RA' ? [v.length / inF, inF] : [outF, v.length / outF];
        factors.set(`${PREFIX}${name}.${key}.weight`, { shape, data: v });
      }
    }
  }
  writeSafetensors(join(dir, 'adapter_model.safetensors'), merged, { format: 'pt' });
  const notes: Record<string, unknown> = {};
  if (exact) {
    writeSafetensors(join(dir, 'colora_adapter.safetensors'), factors, { format: 'pt' });
    Object.assign(notes, {
      personal: cfg.personal,
      kind: cfg.kind ?? 'lora',
      core: cfg.personal ? (cfg.core ?? 'full') : null,
      factors: 'colora_adapter.safetensors',
      delta: '(lora_alpha/r) * (B @ diag(D) @ S @ A - RB @ RA), absent parts identity or zero',
      r,
      lora_alpha: cfg.alpha,
    });
  }
  if (cfg.dual) Object.assign(notes, { dual: true, shared_ranks: [0, r], personal_ranks: [r, 2 * r] });
  if (cfg.residual) {
    writeSafetensors(join(dir, RESIDUAL_FILE), residuals, { format: 'pt' });
    const apply = naming.fanInFanOut
      ? 'add the transpose of each residual.weight [out, in] to its base weight (stored [in, out], fan_in_fan_out) before loading the LoRA'
      : 'add each residual.weight [out, in] to its base weight before loading the LoRA';
    Object.assign(notes, { residual: RESIDUAL_FILE, apply });
  }
  if (Object.keys(notes).length > 0) writeJsonAtomic(join(dir, 'colora_config.json'), notes);
  writeJsonAtomic(join(dir, 'adapter_config.json'), peftConfigJson(cfg, baseModel, naming, peftRank || r));
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
  const peftRank = f.posInt('r', MAX_ADAPTER_RANK);
  const peftAlpha = f.float('lora_alpha', { min: 0, exclusiveMin: true, max: 1e6 });
  const dropout = f.float('lora_dropout', { min: 0, max: 1, exclusiveMax: true, fallback: 0 });
  const tm = raw.target_modules;
  const targets = typeof tm === 'string' ? [tm] : Array.isArray(tm) && tm.length > 0 && tm.every((t) => typeof t === 'string' && t !== '') ? (tm as string[]) : undefined;
  if (!targets) throw f.error('target_modules', `expected a module name or a non-empty list of module names, got ${JSON.stringify(tm)}`);
  const exact = existsSync(join(dir, 'colora_adapter.safetensors'));
  // The exact factors carry their own rank and alpha (the PEFT file's may be the doubled PiSSA conversion).
  const notesFile = join(dir, 'colora_config.json');
  const notes = exact && existsSync(notesFile) ? ConfigFields.read(notesFile) : undefined;
  const rank = notes ? notes.posInt('r', MAX_ADAPTER_RANK, peftRank) : peftRank;
  const alpha = notes ? notes.float('lora_alpha', { min: 0, exclusiveMin: true, max: 1e6, fallback: peftAlpha }) : peftAlpha;
  const kind: AdapterKind = notes ? notes.oneOf('kind', ADAPTER_KINDS, 'lora') : 'lora';
  const file = join(dir, exact ? 'colora_adapter.safetensors' : 'adapter_model.safetensors');
  const tensors = readSafetensors(file);
  const state: AdapterState = new Map();
  const get = (name: string) => {
    let f = state.get(name);
    if (!f) state.set(name, (f = { A: new Float32Array(0), B: new Float32Array(0) }));
    return f;
  };
  const suffixes = [['.lora_A.weight', 'A'], ['.lora_B.weight', 'B'], ...EXTRA.map(([k, key]) => [`.${key}.weight`, k] as const)] as const;
  for (const [key, t] of tensors) {
    for (const [suffix, factor] of suffixes) {
      const name = layerName(key, suffix) ?? layerName(key, suffix.replace('.weight', '.default.weight'));
      if (name === undefined) continue;
      const ok =
        factor === 'A' ? t.shape.length === 2 && t.shape[0] === rank
        : factor === 'B' ? t.shape.length === 2 && t.shape[1] === rank
        : factor === 'S' ? (t.shape.length === 2 && t.shape[0] === rank && t.shape[1] === rank) || (t.shape.length === 1 && t.shape[0] === rank)
        : factor === 'D' ? t.shape.length === 1 && t.shape[0] === rank
        : t.shape.length === 2;
      if (!ok) throw new UsageError(`${file}: tensor ${key} has shape [${t.shape.join(', ')}], which does not fit rank ${rank}`);
      get(name)[factor] = t.data;
    }
  }
  const personal = notes?.has('personal') ? notes.bool('personal', exact) : exact;
  let diagonal = false;
  for (const [name, f] of state) {
    if (f.A.length === 0 || f.B.length === 0) throw new UsageError(`${file}: layer ${name} lacks lora_A or lora_B`);
    if (personal && !f.S) throw new UsageError(`${file}: layer ${name} lacks colora_S`);
    if (!f.RA !== !f.RB) throw new UsageError(`${file}: layer ${name} has only one of colora_RA, colora_RB`);
    if (f.S && f.S.length === rank) diagonal = true;
  }
  if (state.size === 0) throw new UsageError(`${file}: no LoRA tensors found`);
  const residualFile = join(dir, RESIDUAL_FILE);
  const residual = existsSync(residualFile);
  if (residual) {
    for (const [key, t] of readSafetensors(residualFile)) {
      const name = layerName(key, '.residual.weight');
      const f = name === undefined ? undefined : state.get(name);
      if (!f) throw new UsageError(`${residualFile}: tensor ${key} names no layer of the adapter`);
      if (t.data.length !== (f.A.length / rank) * (f.B.length / rank)) throw new UsageError(`${residualFile}: tensor ${key} has shape [${t.shape.join(', ')}], which does not fit its layer`);
      f.R = t.data;
    }
    for (const [name, f] of state) if (!f.R) throw new UsageError(`${residualFile}: layer ${name} has no residual.weight`);
  }
  const config: AdapterConfig = { rank, alpha, targets, dropout, personal, ...(residual ? { residual } : {}) };
  if (kind !== 'lora') config.kind = kind;
  if (diagonal) config.core = 'diagonal';
  return { config, state };
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
