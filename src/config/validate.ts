/**
 * Validate a YAML document against a zod schema and turn the first problem into one line:
 * file, line, key path, what was expected, and a suggestion for a mistyped key.
 */
import { z } from 'zod';
import { YamlSource, formatKeyPath, type KeyPath } from './yaml-source.js';
import { didYouMean } from './suggest.js';
import type { UsageError } from '../util/errors.js';

/** Keys a strict object schema accepts, for suggestions. */
function knownKeys(schema: z.ZodType, path: KeyPath): string[] {
  let s: z.ZodType | undefined = schema;
  for (const p of path) {
    s = unwrap(s);
    if (!s) return [];
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(p)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return [];
  }
  s = unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType | undefined): z.ZodType | undefined {
  let cur: unknown = s;
  for (let i = 0; i < 10 && cur; i++) {
    const def = (cur as { def?: { innerType?: unknown; in?: unknown; type?: string } }).def;
    if (!def) break;
    if (def.innerType) cur = def.innerType;
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else break;
  }
  return cur as z.ZodType | undefined;
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function valueAt(root: unknown, path: KeyPath): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

export function issueToError(src: YamlSource, schema: z.ZodType, raw: unknown, issue: z.core.$ZodIssue): UsageError {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const known = knownKeys(schema, path);
    const full = [...path, key];
    return src.error(full, `unknown key '${key}'${didYouMean(key, known)}; known keys here: ${known.join(', ')}`, true);
  }
  const got = valueAt(raw, path);
  let what = issue.message;
  if (issue.code === 'invalid_type') {
    what = got === undefined ? `missing; expected ${issue.expected}` : `expected ${issue.expected}, got ${describeValue(got)}`;
  } else if (issue.code === 'invalid_value') {
    what = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(got)}`;
    if (typeof got === 'string') what += didYouMean(got, issue.values.map(String));
  } else if (issue.code === 'too_small' || issue.code === 'too_big') {
    what = `${issue.message}, got ${describeValue(got)}`;
  }
  return src.error(path, what);
}

/** Parse and validate; throws UsageError (exit 2) naming file, line and key path. */
export function validateYaml<S extends z.ZodType>(src: YamlSource, schema: S): z.output<S> {
  const raw = src.value();
  const res = schema.safeParse(raw);
  if (res.success) return res.data;
  throw issueToError(src, schema, raw, res.error.issues[0]);
}

export { formatKeyPath };
