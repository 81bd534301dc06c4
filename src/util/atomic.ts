/**
 * Atomic file writes: write to a temporary name in the same directory, fsync, rename. A killed
 * process leaves either the old file or the new one, never a truncated one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync, readFileSync, existsSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** Append lines by rewriting the whole file atomically (results files are small). */
export function appendFileAtomic(path: string, text: string): void {
  const old = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
  writeFileAtomic(path, Buffer.concat([old, Buffer.from(text, 'utf8')]));
}

/**
 * Remove the temporary files (`.NAME.PID.tmp`) a killed writer left anywhere under `dir`; returns
 * their paths. Only safe while no other process writes `dir` (hold its lock).
 */
export function removeStaleTempFiles(dir: string): string[] {
  const removed: string[] = [];
  if (!existsSync(dir)) return removed;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !/^\..+\.\d+\.tmp$/.test(e.name)) continue;
    const p = join(e.parentPath, e.name);
    rmSync(p, { force: true });
    removed.push(p);
  }
  return removed;
}
