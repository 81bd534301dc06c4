/**
 * CheckpointReader: tensors read from their byte ranges in F32, F16 and BF16, optionally
 * transposed in the same pass (nn.Linear [out, in] → [in, out]); a truncated file and a shard the
 * index names but the directory lacks are exit 2 naming the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CheckpointReader } from '../src/model/checkpoint-reader.js';
import { UsageError } from '../src/util/errors.js';

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

/** A safetensors file of raw tensors {name: [dtype, shape, bytes]}. */
function write(path: string, tensors: Record<string, [string, number[], Buffer]>): void {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, [dtype, shape, bytes]] of Object.entries(tensors)) {
    header[name] = { dtype, shape, data_offsets: [off, off + bytes.length] };
    off += bytes.length;
  }
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, h, ...Object.values(tensors).map((t) => t[2])]));
}

// [[1, -2, 0.5], [3, 0.25, -8]]: exact in every dtype below.
const M = [1, -2, 0.5, 3, 0.25, -8];
const MT = [1, 3, -2, 0.25, 0.5, -8];
const f32 = Buffer.from(Float32Array.from(M).buffer);
const bf16 = Buffer.from(Uint16Array.from(new Uint32Array(Float32Array.from(M).buffer), (u) => u >>> 16).buffer);
// IEEE half: sign | exponent (bias 15) | 10-bit fraction.
const half = (v: number) => {
  const s = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  return s | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
};
const f16 = Buffer.from(Uint16Array.from(M, half).buffer);

test('CheckpointReader: F32, F16 and BF16, plain and transposed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'colora-reader-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  write(join(dir, 'model.safetensors'), { a: ['F32', [2, 3], f32], b: ['F16', [2, 3], f16], c: ['BF16', [2, 3], bf16] });
  const r = new CheckpointReader(dir);
  for (const name of ['a', 'b', 'c']) {
    assert.deepEqual([...r.read(name)], M, name);
    assert.deepEqual([...r.read(name, { transpose: true })], MT, `${name} transposed`);
  }
  assert.deepEqual(r.entry('b')!.shape, [2, 3]);
});

test('CheckpointReader: a truncated file and a missing shard name the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'colora-reader-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'model.safetensors');
  write(file, { a: ['F32', [2, 3], f32] });
  truncateSync(file, statSync(file).size - 4);
  assert.throws(() => new CheckpointReader(dir), usage(/model\.safetensors: tensor 'a': data_offsets end 24 is past the end of the data \(20 bytes\); the file is truncated/));

  const sharded = mkdtempSync(join(tmpdir(), 'colora-reader-'));
  t.after(() => rmSync(sharded, { recursive: true, force: true }));
  write(join(sharded, 'model-00001-of-00002.safetensors'), { a: ['F32', [2, 3], f32] });
  writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }));
  assert.throws(() => new CheckpointReader(sharded), usage(/model-00002-of-00002\.safetensors: not found \(listed in .*model\.safetensors\.index\.json\)/));
});
