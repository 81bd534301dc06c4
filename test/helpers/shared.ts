/**
 * Access to ../shared (NI task files, model fixtures, bench script) from tests. A fresh clone
 * without ../shared must still pass `npm test`: tests that need it skip and name the missing path.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (works from test/ under tsx and from dist/test/ after tsc). */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const SHARED_ROOT = process.env.COLORA_SHARED ?? resolve(REPO_ROOT, '..', 'shared');

/** Absolute path under ../shared. */
export function sharedPath(rel: string): string {
  return join(SHARED_ROOT, rel);
}

/**
 * For node:test's `skip` option: false when the path exists, otherwise a reason naming it.
 * Usage: `test('x', { skip: skipUnlessShared('fixtures/tiny-gpt2') }, () => ...)`.
 */
export function skipUnlessShared(rel: string): string | false {
  const p = sharedPath(rel);
  return existsSync(p) ? false : `missing ${p} (../shared is not beside this checkout)`;
}
