/**
 * The adapter kinds and FedEx's dense residual on the Llama family, whose model holds its linear
 * weights [in, out] (nn.Linear's [out, in] transposed once on load) and names PEFT keys
 * `base_model.model.model.` without fan_in_fan_out. Every kind reproduces the base logits at its
 * start; a full-rank decomposition without its correction adds exactly W (so the weight was read
 * as the right matrix, not its transpose); a residual R [out, in] adds W when R = W; the exports
 * reload with the same logits and carry the family's naming.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Llama, llamaParams } from '../src/model/llama.js';
import { parseLlamaConfig } from '../src/model/llama-config.js';
import { llamaFamily } from '../src/model/llama-family.js';
import { InjectedAdapter, targetedLinears } from '../src/adapters/inject.js';
import { initialAdapterState, readFrozenWeights, DEFAULT_START } from '../src/adapters/init.js';
import { kindFactors, type AdapterConfig, type AdapterKind } from '../src/adapters/config.js';
import { applyAdapterDir, loadAdapter, saveAdapter } from '../src/adapters/peft-io.js';
import { initialState, type AdapterState } from '../src/adapters/state.js';
import { weightRows } from '../src/adapters/weight-decomposition.js';
import { readSafetensors } from '../src/model/safetensors.js';
import { Rng } from '../src/util/rng.js';

// hidden 8, 2 heads of 4, one kv head: q_proj 8 → 8, v_proj 8 → 4, up_proj 8 → 16, down_proj 16 → 8.
const CFG = parseLlamaConfig(
  {
    model_type: 'llama', vocab_size: 24, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2,
    num_key_value_heads: 1, max_position_embeddings: 16, rms_norm_eps: 1e-5, tie_word_embeddings: false,
  },
  'tiny-llama',
);
const IDS = tf.tensor2d([[1, 5, 7, 2, 9, 3], [4, 4, 8, 1, 0, 6]], undefined, 'int32');
const KINDS: AdapterKind[] = ['lora', 'pissa', 'svfit', 'loldu'];

/** A random tiny Llama; the layers named in `doubled` get 2W (what W + ΔW with ΔW = W computes). */
function tinyLlama(seed: number, doubled: (name: string) => boolean = () => false): Llama {
  const rng = Rng.derive(seed, 'adapter-kinds-llama');
  const arrays = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, p] of llamaParams(CFG)) {
    const data = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('norm.weight')) data.fill(1);
    else rng.fillNormal(data, 0.4);
    if (p.linear && doubled(name.slice(0, -'.weight'.length))) for (let i = 0; i < data.length; i++) data[i] *= 2;
    arrays.set(name, { shape: p.shape, data });
  }
  return Llama.fromArrays(CFG, arrays);
}

function cfg(kind: AdapterKind, targets: string[], rank: number, personal = false): AdapterConfig {
  return { rank, alpha: 2 * rank, targets, dropout: 0, personal, kind, ...(personal ? { core: 'full' as const } : {}) };
}

async function start(model: Llama, c: AdapterConfig): Promise<AdapterState> {
  return initialAdapterState(targetedLinears(model, c.targets), c, 7, DEFAULT_START, await readFrozenWeights(model, c.targets, 'test'));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function logitsWith(model: Llama, c: AdapterConfig, state: AdapterState): Float32Array {
  const a = new InjectedAdapter(model, c, state);
  const out = model.forward(IDS).dataSync().slice() as Float32Array;
  a.remove();
  return out;
}

test('Llama: every adapter kind (and CoLoRA on it) reproduces the base logits at its start (1e-5), and moving its trained part moves them', async () => {
  const model = tinyLlama(1);
  const base = model.forward(IDS).dataSync().slice();
  const targets = ['self_attn.q_proj', 'self_attn.v_proj', 'mlp.down_proj'];
  for (const kind of KINDS)
    for (const personal of [false, true]) {
      const c = cfg(kind, targets, 3, personal);
      const state = await start(model, c);
      const d = maxDiff(logitsWith(model, c, state), base);
      assert.ok(d < 1e-5, `${kind}${personal ? '+colora' : ''}: max logit difference ${d}`);
      const rng = new Rng(3);
      for (const f of state.values()) for (const k of kindFactors(c.kind, personal ? ['A', 'B', 'S'] : ['A', 'B'])) f[k]!.forEach((v, i, a) => (a[i] = v + 0.3 * rng.normal()));
      assert.ok(maxDiff(logitsWith(model, c, state), base) > 1e-3, `${kind}: the adapter has no effect`);
    }
  model.dispose();
});

test('Llama: a full-rank decomposition without its correction adds exactly W (the [in, out] weight read as W, not Wᵀ)', async () => {
  // q_proj is square (a transposed read would go unnoticed by shapes), up_proj and down_proj are not; min(in, out) = 8 for all.
  const targets = ['self_attn.q_proj', 'mlp.up_proj', 'mlp.down_proj'];
  const model = tinyLlama(2);
  const doubled = tinyLlama(2, (name) => targets.some((t) => name.endsWith(t)));
  const want = doubled.forward(IDS).dataSync();
  assert.ok(maxDiff(want, model.forward(IDS).dataSync()) > 1e-2, 'doubling the targets changes the logits');
  for (const kind of ['pissa', 'svfit', 'loldu'] as const) {
    const c = cfg(kind, targets, 8);
    const state = await start(model, c);
    for (const f of state.values()) {
      assert.ok(f.RA && f.RB, `${kind}: a decomposition start carries its correction`);
      delete f.RA;
      delete f.RB;
    }
    const d = maxDiff(logitsWith(model, c, state), want);
    assert.ok(d < 1e-4, `${kind}: W + s·B·diag(D)·A differs from 2W by ${d} in the logits`);
  }
  model.dispose();
  doubled.dispose();
});

test("Llama: FedEx's residual R [out, in] is added as W + R; its export names base_model.model.model. keys, says no transpose, and reloads", async (t) => {
  const targets = ['self_attn.q_proj', 'self_attn.v_proj'];
  const model = tinyLlama(3);
  const doubled = tinyLlama(3, (name) => targets.some((x) => name.endsWith(x)));
  const c: AdapterConfig = { ...cfg('lora', targets, 2), residual: true };
  const layers = targetedLinears(model, targets);
  const state = initialState(layers, 2, false, 5); // B = 0: the LoRA adds nothing
  for (const l of layers) state.get(l.name)!.R = Float32Array.from(weightRows(await model.frozenWeight(l.name)).flatMap((row) => [...row]));
  const want = doubled.forward(IDS).dataSync();
  const got = logitsWith(model, c, state);
  assert.ok(maxDiff(got, want) < 1e-5, `R = W gives 2W: ${maxDiff(got, want)}`);

  const dir = mkdtempSync(join(tmpdir(), 'colora-llama-fedex-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  saveAdapter(dir, c, state, 'tiny-llama', llamaFamily.peft);
  const peft = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  assert.equal(peft.fan_in_fan_out, false);
  const residual = readSafetensors(join(dir, 'colora_residual.safetensors'));
  assert.deepEqual(residual.get('base_model.model.model.layers.0.self_attn.v_proj.residual.weight')!.shape, [4, 8]);
  const notes = JSON.parse(readFileSync(join(dir, 'colora_config.json'), 'utf8'));
  assert.doesNotMatch(notes.apply, /transpose/);
  const a = applyAdapterDir(model, dir);
  assert.ok(maxDiff(model.forward(IDS).dataSync(), want) < 1e-5, 'reloaded residual');
  a.remove();
  model.dispose();
  doubled.dispose();
});

test('Llama: each kind exported with the family naming; the PEFT file alone and the exact factors give the live logits', async (t) => {
  const targets = ['self_attn.q_proj', 'self_attn.v_proj'];
  const model = tinyLlama(4);
  for (const kind of KINDS) {
    const c = cfg(kind, targets, 3, true);
    const state = await start(model, c);
    const rng = new Rng(9);
    for (const f of state.values()) for (const k of kindFactors(c.kind, ['A', 'B', 'S'])) f[k]!.forEach((v, i, a) => (a[i] = v + 0.3 * rng.normal()));
    const live = logitsWith(model, c, state);
    const dir = mkdtempSync(join(tmpdir(), 'colora-llama-kind-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    saveAdapter(dir, c, state, 'tiny-llama', llamaFamily.peft);
    const merged = readSafetensors(join(dir, 'adapter_model.safetensors'));
    const m = kind === 'lora' ? 3 : 6; // a correction doubles the PEFT rank (PiSSA's conversion)
    assert.deepEqual(merged.get('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight')!.shape, [4, m], kind);
    const exact = applyAdapterDir(model, dir);
    assert.ok(maxDiff(model.forward(IDS).dataSync(), live) < 1e-5, `${kind}: exact factors`);
    exact.remove();
    const peftDir = mkdtempSync(join(tmpdir(), 'colora-llama-peft-'));
    t.after(() => rmSync(peftDir, { recursive: true, force: true }));
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) copyFileSync(join(dir, f), join(peftDir, f));
    assert.equal(loadAdapter(peftDir).config.rank, m);
    const plain = applyAdapterDir(model, peftDir);
    const d = maxDiff(model.forward(IDS).dataSync(), live);
    assert.ok(d < 1e-5, `${kind}: the PEFT file differs by ${d}`);
    plain.remove();
  }
  model.dispose();
});
