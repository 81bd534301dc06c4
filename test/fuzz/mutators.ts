/**
 * Mutators for the fuzz test: each takes valid input (bytes, a parsed JSON value, YAML text,
 * a safetensors file) and returns a damaged copy, drawing every choice from the case's Rng so a
 * seed reproduces its input. They damage in the ways users' files are damaged: truncation, stray
 * bytes, invalid UTF-8, a byte-order mark, wrong types, huge or non-finite numbers, negative ids,
 * missing keys, inconsistent sizes.
 */
import type { Rng } from '../../src/util/rng.js';

/** Uniform integer in [lo, hi) (Rng.int is inclusive). */
export const ri = (rng: Rng, lo: number, hi: number): number => (hi <= lo ? lo : lo + Math.floor(rng.next() * (hi - lo)));
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[ri(rng, 0, xs.length)];

// ---------------------------------------------------------------- bytes

const INVALID_UTF8: readonly number[][] = [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]];

export function mutateBytes(rng: Rng, b: Uint8Array): { bytes: Uint8Array; how: string } {
  const kind = ri(rng, 0, 7);
  const at = b.length === 0 ? 0 : ri(rng, 0, b.length);
  switch (kind) {
    case 0:
      return { bytes: b.subarray(0, at), how: `truncated at ${at}` };
    case 1: {
      const out = Uint8Array.from(b);
      const n = ri(rng, 1, 9);
      for (let i = 0; i < n && out.length > 0; i++) out[ri(rng, 0, out.length)] = ri(rng, 0, 256);
      return { bytes: out, how: `${n} random bytes` };
    }
    case 2: {
      const bad = pick(rng, INVALID_UTF8);
      return { bytes: concat(b.subarray(0, at), Uint8Array.from(bad), b.subarray(at)), how: `invalid UTF-8 ${bad.map((x) => x.toString(16))} at ${at}` };
    }
    case 3:
      return { bytes: concat(Uint8Array.from([0xef, 0xbb, 0xbf]), b), how: 'byte-order mark' };
    case 4:
      return { bytes: new Uint8Array(0), how: 'empty' };
    case 5: {
      const junk = new Uint8Array(ri(rng, 1, 64));
      for (let i = 0; i < junk.length; i++) junk[i] = ri(rng, 0, 256);
      return { bytes: concat(b.subarray(0, at), junk, b.subarray(at)), how: `${junk.length} junk bytes at ${at}` };
    }
    default: {
      const nul = concat(b.subarray(0, at), Uint8Array.from([0]), b.subarray(at));
      return { bytes: nul, how: `NUL at ${at}` };
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------- JSON values

/** Raw JSON tokens JSON.stringify cannot make; `jsonText` splices them in. */
const RAW = ['1e999', '-1e999', '1e30', '-0', '9007199254740993', '1e-400'];
const rawToken = (t: string) => `__RAW__${t}__`;

/** Values that break loaders that trust their input. */
export function weirdValue(rng: Rng): unknown {
  const k = ri(rng, 0, 16);
  switch (k) {
    case 0: return null;
    case 1: return -1;
    case 2: return 0;
    case 3: return 1.5;
    case 4: return 2 ** 31;
    case 5: return 1e30;
    case 6: return rawToken(pick(rng, RAW));
    case 7: return '';
    case 8: return 'x'.repeat(ri(rng, 1, 3) === 1 ? 2_000_000 : 40);
    case 9: return [];
    case 10: return {};
    case 11: return true;
    case 12: return [-1, 3];
    case 13: return '\u0000\uFFFD\u{1F600}';
    case 14: return -(2 ** 53);
    default: return { nested: [1, { a: null }] };
  }
}

type Path = (string | number)[];

function paths(v: unknown, prefix: Path = [], out: Path[] = [], depth = 0): Path[] {
  if (prefix.length > 0) out.push(prefix);
  if (depth > 6 || v === null || typeof v !== 'object') return out;
  const entries: [string | number, unknown][] = Array.isArray(v) ? v.slice(0, 8).map((x, i) => [i, x]) : Object.entries(v as object).slice(0, 40);
  for (const [k, x] of entries) paths(x, [...prefix, k], out, depth + 1);
  return out;
}

/** A deep copy of `value` with a few random edits: set a value to a weird one, delete a key, empty a list, add a key. */
export function mutateJson(rng: Rng, value: unknown, preferKeys: readonly string[] = []): { value: unknown; how: string } {
  const v = structuredClone(value);
  const all = paths(v);
  const hows: string[] = [];
  const edits = ri(rng, 1, 4);
  for (let e = 0; e < edits; e++) {
    const preferred = all.filter((p) => preferKeys.includes(String(p[p.length - 1])));
    const p = preferred.length > 0 && rng.next() < 0.7 ? pick(rng, preferred) : all.length > 0 ? pick(rng, all) : [];
    if (p.length === 0) return { value: weirdValue(rng), how: 'replaced the whole document' };
    const parent = p.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)?.[k], v) as Record<string | number, unknown> | unknown[] | undefined;
    if (parent === null || typeof parent !== 'object') continue;
    const key = p[p.length - 1];
    const op = ri(rng, 0, 5);
    const at = p.map(String).join('.');
    if (op === 0 && !Array.isArray(parent)) {
      delete (parent as Record<string, unknown>)[key];
      hows.push(`deleted ${at}`);
    } else if (op === 1 && Array.isArray((parent as Record<string | number, unknown>)[key])) {
      (parent as Record<string | number, unknown>)[key] = [];
      hows.push(`emptied ${at}`);
    } else if (op === 2 && !Array.isArray(parent)) {
      (parent as Record<string, unknown>)[`unknown_${ri(rng, 0, 100)}`] = weirdValue(rng);
      hows.push(`added a key beside ${at}`);
    } else {
      const w = weirdValue(rng);
      (parent as Record<string | number, unknown>)[key] = w;
      hows.push(`${at} = ${typeof w === 'string' ? `string(${w.length})` : JSON.stringify(w)?.slice(0, 40)}`);
    }
  }
  return { value: v, how: hows.join('; ') };
}

/** JSON text with raw tokens (1e999, ...) spliced in where mutateJson put them. */
export function jsonText(value: unknown): string {
  return (JSON.stringify(value, null, 1) ?? 'null').replace(/"__RAW__(.*?)__"/g, '$1');
}

/** Either a structural JSON mutation or a byte-level one of the file's text. */
export function mutateJsonFile(rng: Rng, value: unknown, preferKeys: readonly string[] = []): { bytes: Uint8Array; how: string } {
  if (rng.next() < 0.7) {
    const m = mutateJson(rng, value, preferKeys);
    return { bytes: Buffer.from(jsonText(m.value)), how: m.how };
  }
  return mutateBytes(rng, Buffer.from(jsonText(value)));
}

// ---------------------------------------------------------------- safetensors

interface StHeader {
  [name: string]: { dtype: unknown; shape: unknown; data_offsets: unknown } | Record<string, string>;
}

function splitSafetensors(b: Uint8Array): { header: StHeader; data: Uint8Array } {
  const len = Number(Buffer.from(b).readBigUInt64LE(0));
  return { header: JSON.parse(Buffer.from(b.subarray(8, 8 + len)).toString('utf8')), data: b.subarray(8 + len) };
}

function joinSafetensors(header: unknown, data: Uint8Array, lengthDelta = 0n): Uint8Array {
  const h = Buffer.from(jsonText(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt.asUintN(64, BigInt(h.length) + lengthDelta));
  return concat(len, h, data);
}

const DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL', 'C64', 'F8_E4M3', 7, null];

/** A safetensors file damaged in its header length, its header JSON, its tensor bytes or its values. */
export function mutateSafetensors(rng: Rng, file: Uint8Array): { bytes: Uint8Array; how: string } {
  const { header, data } = splitSafetensors(file);
  const names = Object.keys(header).filter((n) => n !== '__metadata__');
  const name = pick(rng, names);
  const entry = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
  const kind = ri(rng, 0, 10);
  switch (kind) {
    case 0: {
      const delta = pick(rng, [-1n, 1n, 8n, -8n, 1n << 40n, (1n << 64n) - 1n]);
      return { bytes: joinSafetensors(header, data, delta), how: `header length off by ${delta}` };
    }
    case 1: {
      entry.dtype = pick(rng, DTYPES) as string;
      return { bytes: joinSafetensors(header, data), how: `${name}.dtype = ${JSON.stringify(entry.dtype)}` };
    }
    case 2: {
      const s = [...entry.shape];
      const i = ri(rng, 0, Math.max(1, s.length));
      s[i] = pick(rng, [0, -1, 1.5, 1e30, 2 ** 53, (s[i] ?? 1) + 1, 2 ** 31]);
      entry.shape = rng.next() < 0.2 ? ([] as number[]) : s;
      return { bytes: joinSafetensors(header, data), how: `${name}.shape = ${JSON.stringify(entry.shape)}` };
    }
    case 3: {
      const [b, e] = entry.data_offsets;
      const other = header[pick(rng, names)] as { data_offsets: [number, number] };
      entry.data_offsets = pick(rng, [
        [b + 4, e + 4], [e, b], [0, e - b], [b, e + data.length], [-4, e], [b, 2 ** 60], [other.data_offsets[0], other.data_offsets[0] + (e - b)], [b],
      ]) as [number, number];
      return { bytes: joinSafetensors(header, data), how: `${name}.data_offsets = ${JSON.stringify(entry.data_offsets)}` };
    }
    case 4: {
      const m = mutateJson(rng, header, ['dtype', 'shape', 'data_offsets', '__metadata__', 'format']);
      return { bytes: joinSafetensors(m.value, data), how: `header: ${m.how}` };
    }
    case 5:
    case 6: {
      // A non-finite value inside a float tensor.
      if (entry.dtype !== 'F32' || entry.data_offsets[1] === entry.data_offsets[0]) return { bytes: file.subarray(0, file.length - 1), how: 'cut the last byte' };
      const out = Uint8Array.from(file);
      const dataStart = file.length - data.length;
      const n = (entry.data_offsets[1] - entry.data_offsets[0]) / 4;
      const i = ri(rng, 0, n);
      const v = pick(rng, [NaN, Infinity, -Infinity]);
      new DataView(out.buffer).setFloat32(dataStart + entry.data_offsets[0] + 4 * i, v, true);
      return { bytes: out, how: `${name}[${i}] = ${v}` };
    }
    case 7: {
      const cut = ri(rng, 0, file.length);
      return { bytes: file.subarray(0, cut), how: `truncated at ${cut} of ${file.length}` };
    }
    case 8: {
      delete header[name];
      return { bytes: joinSafetensors(header, data), how: `removed tensor ${name}` };
    }
    default:
      return mutateBytes(rng, file.subarray(0, Math.min(file.length, 8 + 200)));
  }
}

// ---------------------------------------------------------------- YAML and lines

const YAML_VALUES = ['-1', '0', '1e30', '1.5', '""', '[]', '{}', 'null', '~', 'true', '[1, [2]]', '&a [*a]', "'unterminated", '{a: 1', '9999999999999999999999', '.nan', '-.inf', 'x'.repeat(300)];

/** A YAML document with a line deleted, duplicated, re-valued, re-indented, or bytes broken. */
export function mutateYaml(rng: Rng, text: string): { bytes: Uint8Array; how: string } {
  const lines = text.split('\n');
  const i = ri(rng, 0, lines.length);
  const kind = ri(rng, 0, 6);
  switch (kind) {
    case 0:
      lines.splice(i, 1);
      return { bytes: Buffer.from(lines.join('\n')), how: `deleted line ${i + 1}` };
    case 1:
      lines.splice(i, 0, lines[i]);
      return { bytes: Buffer.from(lines.join('\n')), how: `duplicated line ${i + 1}` };
    case 2:
    case 3: {
      const m = /^(\s*-?\s*[\w.]+:\s*)(.*)$/.exec(lines[i]);
      const v = pick(rng, YAML_VALUES);
      if (m) lines[i] = m[1] + v;
      else lines[i] = `${lines[i]} ${v}`;
      // also: a value inside a flow mapping
      if (rng.next() < 0.3) lines[i] = lines[i].replace(/:\s*\d+/, `: ${pick(rng, YAML_VALUES)}`);
      return { bytes: Buffer.from(lines.join('\n')), how: `line ${i + 1} = ${lines[i].slice(0, 60)}` };
    }
    case 4:
      lines[i] = `${'\t'.repeat(ri(rng, 0, 2))}${' '.repeat(ri(rng, 1, 4))}${lines[i]}`;
      return { bytes: Buffer.from(lines.join('\n')), how: `re-indented line ${i + 1}` };
    default:
      return mutateBytes(rng, Buffer.from(text));
  }
}
