#!/usr/bin/env node
// `npm test` after the build: every test file under dist/test (two at a time), with TMPDIR pointed
// at a fresh directory. Tests make their temporary directories there (test/helpers/temp.ts) and
// must remove them, also when they fail; anything left when all files have finished fails the
// suite and is named (the prefix says which test made it). Arguments replace the default file
// list, e.g. `node bin/run-tests.mjs dist/test/cli.test.js`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const files = process.argv.slice(2);
const tmp = mkdtempSync(join(tmpdir(), 'colora-test-run-'));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...(files.length ? files : ['dist/test/'])], {
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: tmp, TEMP: tmp, TMP: tmp },
});
const left = readdirSync(tmp);
rmSync(tmp, { recursive: true, force: true });
let code = r.status ?? 1;
if (left.length > 0) {
  process.stderr.write(`run-tests: the tests left ${left.length} entries in their TMPDIR (every test must remove what it creates): ${left.join(', ')}\n`);
  code = code || 1;
}
process.exit(code);
