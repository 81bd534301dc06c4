/**
 * A parsed YAML file that remembers where every value came from, so that validation errors can
 * name the line.
 */
import { existsSync, statSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import { UsageError, located } from '../util/errors.js';
import { readTextFile } from '../util/text-file.js';

/** The largest YAML config colora reads (configs are a few KB). */
export const MAX_YAML_BYTES = 16 * 2 ** 20;

export type KeyPath = (string | number)[];

export function formatKeyPath(path: readonly (string | number | symbol)[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

export class YamlSource {
  private constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static read(file: string, what = 'config'): YamlSource {
    if (!existsSync(file)) throw new UsageError(`${file}: ${what} file not found`);
    if (statSync(file).isDirectory()) throw new UsageError(`${file}: expected a YAML ${what} file, found a directory`);
    // Strict UTF-8 (a stray Latin-1 byte is named with its line, not turned into U+FFFD); a BOM is allowed, as YAML allows it.
    return YamlSource.parse(file, readTextFile(file, { bom: 'strip', what: `YAML ${what} file`, maxBytes: MAX_YAML_BYTES }));
  }

  static parse(file: string, text: string): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const line = e.linePos?.[0]?.line ?? (e.pos ? lines.linePos(e.pos[0]).line : undefined);
      const msg = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      throw new UsageError(located(file, line, undefined, `invalid YAML: ${msg}`));
    }
    return new YamlSource(file, doc, lines);
  }

  /** The plain JS value of the document (empty document → {}). */
  value(): unknown {
    const v = this.doc.toJS({ maxAliasCount: 100 });
    return v ?? {};
  }

  /** 1-based line of the value at `path`, or of the deepest existing ancestor. */
  lineOf(path: KeyPath, preferKey = false): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      if (preferKey && n === path.length && n > 0) {
        const parent = sub.length > 1 ? this.doc.getIn(sub.slice(0, -1), true) : this.doc.contents;
        if (isMap(parent)) {
          const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === String(sub[sub.length - 1]));
          if (pair && isNode(pair.key) && pair.key.range) return this.lines.linePos(pair.key.range[0]).line;
        }
      }
      const node = n === 0 ? this.doc.contents : this.doc.getIn(sub, true);
      if (isNode(node) && node.range) return this.lines.linePos(node.range[0]).line;
    }
    return undefined;
  }

  error(path: KeyPath, what: string, preferKey = false): UsageError {
    return new UsageError(located(this.file, this.lineOf(path, preferKey), formatKeyPath(path) || undefined, what));
  }
}
