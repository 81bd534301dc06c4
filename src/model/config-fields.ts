/**
 * Readers for the values of a Hugging Face `config.json`, shared by every model family (GPT-2,
 * Llama, ...) so that each checks sizes, token ids and floats the same way. Every value a loader
 * uses goes through one of these; a bad value is a UsageError naming the file and the key:
 *   sizes      positive integers with an upper bound (n_layer: 1e30 is refused here, before
 *              anything is sized by it)
 *   token ids  integers in [0, vocab_size), also every element of a list (eos_token_id: [2, -1])
 *   floats     finite and inside a stated range
 * After the config, `checkImpliedParams` compares the parameter count the config implies with
 * the element count the weight files declare, before any tensor data is decoded.
 */
import { UsageError, located } from '../util/errors.js';
import { readJsonFile } from '../util/text-file.js';

/** Upper bounds for config sizes: far above any released model, far below what breaks a Map or an allocation. */
export const CONFIG_LIMITS = {
  /** vocab_size (largest released vocabularies are ~256k). */
  vocabSize: 1 << 24,
  /** n_positions / max_position_embeddings. */
  positions: 1 << 22,
  /** n_embd / hidden_size. */
  width: 1 << 17,
  /** MLP width: n_inner / intermediate_size. */
  inner: 1 << 20,
  /** n_layer / num_hidden_layers. */
  layers: 1024,
  /** n_head / num_attention_heads / num_key_value_heads. */
  heads: 4096,
  /** config.json itself (bytes). */
  fileBytes: 16 << 20,
} as const;

export class ConfigFields {
  constructor(
    readonly file: string,
    readonly raw: Record<string, unknown>,
  ) {}

  /** Read `file` as a JSON object (strict UTF-8, no BOM, at most CONFIG_LIMITS.fileBytes). */
  static read(file: string): ConfigFields {
    return ConfigFields.of(readJsonFile(file, 'config.json', CONFIG_LIMITS.fileBytes), file);
  }

  /** Wrap an already parsed value; it must be a JSON object. */
  static of(raw: unknown, file: string): ConfigFields {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`${file}: expected a JSON object`);
    return new ConfigFields(file, raw as Record<string, unknown>);
  }

  error(key: string, what: string): UsageError {
    return new UsageError(located(this.file, undefined, key, what));
  }

  /** Present and not null. */
  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** An integer in [1, max]; `fallback` when absent or null (required when no fallback). */
  posInt(key: string, max: number, fallback?: number): number {
    return this.int(key, 1, max, fallback, 'a positive integer');
  }

  /** An integer in [0, max]. */
  nonNegInt(key: string, max: number, fallback?: number): number {
    return this.int(key, 0, max, fallback, 'an integer of 0 or more');
  }

  private int(key: string, min: number, max: number, fallback: number | undefined, kind: string): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw this.error(key, `missing; expected ${kind} (at most ${max})`);
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw this.error(key, `expected ${kind}, got ${show(v)}`);
    if (v > max) throw this.error(key, `${v} is over the limit of ${max}`);
    return v;
  }

  /**
   * A finite number in a range; `fallback` when absent or null. `min`/`max` are inclusive unless
   * `exclusiveMin`/`exclusiveMax` (e.g. layer_norm_epsilon: > 0).
   */
  float(key: string, r: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean; fallback?: number }): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (r.fallback !== undefined) return r.fallback;
      throw this.error(key, 'missing; expected a number');
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.error(key, `expected a finite number, got ${show(v)}`);
    const lo = r.min === undefined || (r.exclusiveMin ? v > r.min : v >= r.min);
    const hi = r.max === undefined || (r.exclusiveMax ? v < r.max : v <= r.max);
    if (!lo || !hi) {
      const left = r.min === undefined ? '(-inf' : `${r.exclusiveMin ? '(' : '['}${r.min}`;
      const right = r.max === undefined ? 'inf)' : `${r.max}${r.exclusiveMax ? ')' : ']'}`;
      throw this.error(key, `expected a number in ${left}, ${right}, got ${v}`);
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw this.error(key, `expected true or false, got ${show(v)}`);
    return v;
  }

  /** One of `choices`; `fallback` when absent or null; `hint` is shown after the list. */
  oneOf<T extends string>(key: string, choices: readonly T[], fallback?: T, hint?: string): T {
    const v = this.raw[key];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || !choices.includes(v as T)) throw this.error(key, `expected one of ${choices.join(', ')}${hint ? ` (${hint})` : ''}, got ${show(v)}`);
    return v as T;
  }

  /**
   * Token ids: an integer or a list of integers, each in [0, vocabSize); undefined when absent
   * or null. Hugging Face allows a list for eos_token_id.
   */
  tokenIds(key: string, vocabSize: number): number[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    const list = Array.isArray(v) ? v : [v];
    if (Array.isArray(v) && v.length === 0) throw this.error(key, 'expected a token id or a non-empty list of token ids, got []');
    list.forEach((id, i) => {
      const where = Array.isArray(v) ? `${key}[${i}]` : key;
      if (typeof id !== 'number' || !Number.isInteger(id)) throw this.error(where, `expected a token id (an integer in [0, ${vocabSize})), got ${show(id)}`);
      if (id < 0 || id >= vocabSize) throw this.error(where, `token id ${id} is outside [0, ${vocabSize}) (vocab_size ${vocabSize})`);
    });
    return list as number[];
  }

  /** The first of `tokenIds(key)`. */
  tokenId(key: string, vocabSize: number): number | undefined {
    return this.tokenIds(key, vocabSize)?.[0];
  }

  /** `a` must be divisible by `b` (e.g. hidden_size by num_attention_heads). */
  divisible(key: string, a: number, aName: string, b: number, bName: string): void {
    if (a % b !== 0) throw this.error(key, `${aName} (${a}) must be divisible by ${bName} (${b})`);
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Elements of one tensor of this shape (a plain number: shapes here are already bounded). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The parameter count a config implies must be no more than the weight files declare (checked on
 * the headers, before tensor data is decoded): a config that asks for more than the checkpoint
 * holds is refused before anything is allocated for it.
 */
export function checkImpliedParams(configFile: string, shapes: Iterable<readonly number[]>, declared: number, weightFiles: string): void {
  let implied = 0;
  for (const s of shapes) implied += elementCount(s);
  if (implied > declared)
    throw new UsageError(
      `${configFile}: the config implies ${implied} parameters, but ${weightFiles} declare only ${declared} values; the config does not describe these weights`,
    );
}
