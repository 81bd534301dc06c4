import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensors, readSafetensors, readSafetensorsFile, writeSafetensors } from '../src/model/safetensors.js';
import { UsageError } from '../src/util/errors.js';
import { tempDir } from './helpers/temp.js';

const tmp = () => tempDir('colora-st-');

/** A safetensors file from a header object and raw data bytes, as another writer would make it. */
function handMade(header: Record<string, unknown>, data: number[]): Uint8Array {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  Buffer.from(data).copy(out, 8 + json.length);
  return out;
}

test('write then read returns the same tensors and metadata', () => {
  const path = join(tmp(), 'a.safetensors');
  const a = { shape: [2, 3], data: new Float32Array([1, -2.5, 3e-8, 4, 5, Math.PI]) };
  const b = { shape: [0], data: new Float32Array(0) };
  const s = { shape: [], data: new Float32Array([7]) };
  writeSafetensors(path, new Map([['w.a', a], ['w.b', b], ['scalar', s]]), { format: 'pt' });
  const { tensors, metadata } = readSafetensorsFile(path);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual([...tensors.keys()].sort(), ['scalar', 'w.a', 'w.b']);
  assert.deepEqual(tensors.get('w.a'), { dtype: 'F32', shape: [2, 3], data: a.data });
  assert.deepEqual(tensors.get('w.b')!.shape, [0]);
  assert.deepEqual(tensors.get('scalar')!.data, new Float32Array([7]));
  // The header is padded to a multiple of 8 bytes, as the reference writer does.
  assert.equal(Number(readFileSync(path).readBigUInt64LE(0)) % 8, 0);
});

test('a record works as well as a Map', () => {
  const path = join(tmp(), 'r.safetensors');
  writeSafetensors(path, { x: { shape: [2], data: new Float32Array([1, 2]) } });
  assert.deepEqual(readSafetensors(path).get('x')!.data, new Float32Array([1, 2]));
});

test('F16 and BF16 are converted to F32 exactly', () => {
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal 2^-24 = 0x0001.
  // BF16: 1.0 = 0x3f80, -0.5 = 0xbf00, 3.140625 = 0x4049.
  const f16 = [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00];
  const bf16 = [0x80, 0x3f, 0x00, 0xbf, 0x49, 0x40];
  const buf = handMade(
    {
      __metadata__: { format: 'pt' },
      half: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] },
      brain: { dtype: 'BF16', shape: [3], data_offsets: [8, 14] },
    },
    [...f16, ...bf16],
  );
  const { tensors } = decodeSafetensors(buf, 'hand.safetensors');
  assert.deepEqual(tensors.get('half'), { dtype: 'F16', shape: [2, 2], data: new Float32Array([1, -2, 65504, 2 ** -24]) });
  assert.deepEqual(tensors.get('brain'), { dtype: 'BF16', shape: [3], data: new Float32Array([1, -0.5, 3.140625]) });
});

test('a data offset past the end names the file and the tensor', () => {
  const buf = handMade({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, [0, 0, 0, 0]);
  assert.throws(
    () => decodeSafetensors(buf, 'cut.safetensors'),
    (e: unknown) => e instanceof UsageError && /cut\.safetensors/.test(e.message) && /'w'/.test(e.message) && /truncated/.test(e.message),
  );
});

test('size mismatch, unknown dtype and garbage are UsageErrors naming the file', () => {
  const mismatch = handMade({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Array(8).fill(0));
  assert.throws(() => decodeSafetensors(mismatch, 'm.st'), (e: unknown) => e instanceof UsageError && /m\.st: tensor 'w'.*needs 12/.test(e.message));
  const dtype = handMade({ w: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Array(8).fill(0));
  assert.throws(() => decodeSafetensors(dtype, 'd.st'), (e: unknown) => e instanceof UsageError && /d\.st: tensor 'w': unsupported dtype "C64"/.test(e.message));
  const path = join(tmp(), 'junk.safetensors');
  writeFileSync(path, 'definitely not safetensors');
  assert.throws(() => readSafetensors(path), (e: unknown) => e instanceof UsageError && e.message.includes(path));
  assert.throws(() => readSafetensors(join(tmp(), 'absent.safetensors')), (e: unknown) => e instanceof UsageError && /absent\.safetensors: cannot read/.test(e.message));
});
