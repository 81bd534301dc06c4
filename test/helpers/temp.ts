/**
 * Temporary directories that tests remove again, also when they fail or throw: every directory
 * made here is removed when the test file's process exits (and, given a test context, right after
 * that test). `npm test` (bin/run-tests.mjs) points TMPDIR at a fresh directory and fails the
 * suite when anything is left in it, so a test that makes its own temporary files must clean up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory `<TMPDIR>/<prefix>XXXXXX`, removed after test `t` (when given) and at exit. */
export function tempDir(prefix: string, t?: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  t?.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
