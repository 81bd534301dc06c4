/**
 * The suite's guard against leftover temporary files (bin/run-tests.mjs): a test file that leaves
 * a directory in TMPDIR fails the run and is named; one that fails but made its directory with
 * test/helpers/temp.ts leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';

function runTests(fixture: string) {
  // Without NODE_TEST_CONTEXT, which makes a nested `node --test` skip its files.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'run-tests.mjs'), join(REPO_ROOT, 'test', 'fixtures', fixture)], { cwd: REPO_ROOT, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('a test that leaves a temporary directory fails the suite, which names it', () => {
  const r = runTests('leaky.test.mjs');
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /run-tests: the tests left 1 entries in their TMPDIR .*: colora-leak-/);
});

test('a failing test still removes the directory it made with tempDir()', () => {
  const r = runTests('tidy-failing.test.mjs');
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /this test fails on purpose/);
  assert.doesNotMatch(r.out, /run-tests: the tests left/);
});
