/**
 * Reading user-supplied text files strictly: invalid UTF-8 is an error naming the file and the
 * line (Node's 'utf8' decoding would silently turn it into U+FFFD), and a byte-order mark is
 * either stripped or refused by name, never left for JSON.parse to report as "Unexpected token".
 */
import { readFileSync, statSync } from 'node:fs';
import { UsageError, located } from './errors.js';

const BOM = [0xef, 0xbb, 0xbf];

export function startsWithBom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2];
}

/** Byte offset of the first byte that is not part of well-formed UTF-8, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0; // no overlong forms
      if (c === 0xed) hi = 0x9f; // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined) return i;
      const [l, h] = k === 1 ? [lo, hi] : [0x80, 0xbf];
      if (d < l || d > h) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** 1-based line of byte offset `at`. */
export function lineAt(bytes: Uint8Array, at: number): number {
  let line = 1;
  for (let i = 0; i < at && i < bytes.length; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode bytes as strict UTF-8; `file` is named (with the line) when they are not. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return strict.decode(bytes); // native and fast; the byte-by-byte scan below only locates a failure
  } catch {
    const bad = Math.max(0, firstInvalidUtf8(bytes));
    const hex = (bytes[bad] ?? 0).toString(16).padStart(2, '0');
    throw new UsageError(located(file, lineAt(bytes, bad), undefined, `not valid UTF-8 (byte 0x${hex} at offset ${bad}); save the file as UTF-8`));
  }
}

export interface ReadTextOptions {
  /** 'strip': a leading byte-order mark is dropped; 'refuse': it is an error that says so. */
  bom: 'strip' | 'refuse';
  /** What the file is, for "not found" messages (e.g. 'task file'). */
  what?: string;
  /** Refuse files larger than this many bytes (default: 256 MiB; a JS string holds at most ~512 MB). */
  maxBytes?: number;
}

export const DEFAULT_MAX_TEXT_BYTES = 256 * 2 ** 20;

/** Read a text file a user gave us: exists, is a file, within size, strict UTF-8, BOM handled. */
export function readTextFile(file: string, opts: ReadTextOptions): string {
  const what = opts.what ?? 'file';
  let size: number;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new UsageError(`${file}: expected a ${what}, found a directory`);
    size = st.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${file}: ${what} not found or unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const max = opts.maxBytes ?? DEFAULT_MAX_TEXT_BYTES;
  if (size > max) throw new UsageError(`${file}: ${size} bytes, over the limit of ${max} bytes for a ${what}`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UsageError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (startsWithBom(bytes)) {
    if (opts.bom === 'refuse')
      throw new UsageError(located(file, 1, undefined, 'starts with a UTF-8 byte-order mark (BOM, bytes EF BB BF); JSON must not have one: save the file as UTF-8 without BOM'));
    bytes = bytes.subarray(3);
  }
  return decodeUtf8(bytes, file);
}

/** 1-based line of a JSON.parse error position in `text`, if the message has one. */
export function jsonErrorLine(text: string, message: string): number | undefined {
  const pos = /position (\d+)/.exec(message);
  if (pos) return text.slice(0, Number(pos[1])).split('\n').length;
  const lc = /line (\d+) column/.exec(message);
  return lc ? Number(lc[1]) : undefined;
}

/** Read and parse a JSON file strictly (UTF-8, no BOM); errors name the file and line. */
export function readJsonFile(file: string, what = 'JSON file', maxBytes?: number): unknown {
  const text = readTextFile(file, { bom: 'refuse', what, maxBytes });
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    throw new UsageError(located(file, jsonErrorLine(text, msg), undefined, `not valid JSON (${msg})`));
  }
}
