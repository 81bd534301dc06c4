/**
 * A finished cell directory as a list of files, and back. The worker runs a cell with the same
 * code as the in-process sweep (runCell) into a directory of its own, lists it here, and the
 * coordinator writes the files into the sweep's cell directory, each atomically, cell.json (the
 * sweep's commit point for a cell) last: a gathered cell is byte for byte what the in-process
 * sweep writes.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { RunError } from '../util/errors.js';
import { CELL_FILES } from '../experiment/run-layout.js';
import { isSafeRelativePath, type FileEntry } from './protocol.js';

/** The commit point: written last, and its presence means the cell is finished. */
export const COMMIT_FILE = CELL_FILES.record;

function walk(root: string, dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(root, p, out);
    else if (!name.endsWith('.tmp')) out.push(relative(root, p).split('\\').join('/'));
  }
}

/** Every file under `dir`, relative paths in sorted order, the commit file last. */
export function listCellFiles(dir: string): string[] {
  const files: string[] = [];
  walk(dir, dir, files);
  return [...files.filter((f) => f !== COMMIT_FILE), ...files.filter((f) => f === COMMIT_FILE)];
}

export function packCellFiles(dir: string, inline: boolean): FileEntry[] {
  return listCellFiles(dir).map((path) => {
    const data = readFileSync(join(dir, path));
    return inline ? { path, bytes: data.length, base64: data.toString('base64') } : { path, bytes: data.length };
  });
}

/**
 * Write a cell's files into `dest`, from the result itself or, for entries without data, from
 * `from` (the shared --artifacts directory). Checks every path and size; the commit file last.
 */
export function unpackCellFiles(files: readonly FileEntry[], dest: string, from?: string): void {
  if (!files.some((f) => f.path === COMMIT_FILE)) throw new RunError(`result has no ${COMMIT_FILE}`);
  const ordered = [...files.filter((f) => f.path !== COMMIT_FILE), ...files.filter((f) => f.path === COMMIT_FILE)];
  for (const f of ordered) {
    if (!isSafeRelativePath(f.path)) throw new RunError(`result names an unsafe path '${f.path}'`);
    const target = join(dest, f.path);
    if (f.base64 !== undefined) {
      const data = Buffer.from(f.base64, 'base64');
      if (data.length !== f.bytes) throw new RunError(`result file ${f.path}: ${data.length} bytes, expected ${f.bytes}`);
      writeFileAtomic(target, data);
    } else {
      if (!from) throw new RunError(`result file ${f.path} travels through --artifacts, but this coordinator has no --artifacts DIR`);
      const src = join(from, f.path);
      if (!existsSync(src)) throw new RunError(`result file ${src} is missing (is --artifacts the same shared directory on every machine?)`);
      if (statSync(src).size !== f.bytes) throw new RunError(`result file ${src}: ${statSync(src).size} bytes, expected ${f.bytes}`);
      // copy to a temporary name, then rename: atomic like writeFileAtomic
      mkdirSync(dirname(target), { recursive: true });
      const tmp = `${target}.${process.pid}.tmp`;
      copyFileSync(src, tmp);
      renameSync(tmp, target);
    }
  }
}
