/**
 * Loading a BF16 checkpoint holds the F32 weights plus about one tensor, never the whole file:
 * a child process loads a generated 35M-parameter Llama (70 MB BF16, 140 MB as F32) and its peak
 * RSS may grow by at most 1.3× the F32 size (reading the whole file first would be ≥ 1.5×).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './helpers/shared.js';

/** A BF16 Llama checkpoint written in chunks (its values are a repeating pattern of small numbers). */
function writeCheckpoint(dir: string): number {
  const c = {
    model_type: 'llama', vocab_size: 8000, hidden_size: 512, intermediate_size: 1536, num_hidden_layers: 8,
    num_attention_heads: 8, num_key_value_heads: 4, max_position_embeddings: 512, tie_word_embeddings: false,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  const D = c.hidden_size;
  const F = c.intermediate_size;
  const kv = (c.num_key_value_heads * D) / c.num_attention_heads;
  const tensors: [string, number[]][] = [['model.embed_tokens.weight', [c.vocab_size, D]]];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    tensors.push([`${p}input_layernorm.weight`, [D]], [`${p}post_attention_layernorm.weight`, [D]]);
    tensors.push([`${p}self_attn.q_proj.weight`, [D, D]], [`${p}self_attn.k_proj.weight`, [kv, D]], [`${p}self_attn.v_proj.weight`, [kv, D]], [`${p}self_attn.o_proj.weight`, [D, D]]);
    tensors.push([`${p}mlp.gate_proj.weight`, [F, D]], [`${p}mlp.up_proj.weight`, [F, D]], [`${p}mlp.down_proj.weight`, [D, F]]);
  }
  tensors.push(['model.norm.weight', [D]], ['lm_head.weight', [c.vocab_size, D]]);
  const header: Record<string, unknown> = {};
  let off = 0;
  let params = 0;
  for (const [name, shape] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'BF16', shape, data_offsets: [off, off + 2 * n] };
    off += 2 * n;
    params += n;
  }
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  writeSync(fd, len);
  writeSync(fd, h);
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i += 2) chunk.writeUInt16LE(0x3c00 + (i % 251), i); // bfloat16 ≈ 0.008 .. 0.03
  for (let left = off; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  closeSync(fd);
  return params;
}

test('loading a BF16 checkpoint peaks within 1.3x its F32 size', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'colora-mem-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const params = writeCheckpoint(dir);
  const script = `
    const { loadModel } = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'src', 'model', 'families.js'))});
    const { initBackend } = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'src', 'engine', 'backend.js'))});
    await initBackend('cpu');
    const before = process.memoryUsage().rss;
    const { model } = loadModel(${JSON.stringify(dir)});
    console.log(JSON.stringify({ before, peak: process.resourceUsage().maxRSS * 1024, linears: model.linears().length }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { before, peak, linears } = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(linears, 8 * 7);
  const f32 = 4 * params;
  const grew = peak - before;
  console.log(`peak RSS grew by ${(grew / 2 ** 20).toFixed(0)} MiB for ${(f32 / 2 ** 20).toFixed(0)} MiB of F32 weights`);
  assert.ok(grew < 1.3 * f32, `peak RSS grew by ${(grew / 2 ** 20).toFixed(0)} MiB for ${(f32 / 2 ** 20).toFixed(0)} MiB of F32 weights`);
  assert.ok(grew > 0.9 * f32, `the weights are resident (${(grew / 2 ** 20).toFixed(0)} MiB)`);
});
