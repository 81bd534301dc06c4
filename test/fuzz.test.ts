/**
 * Fuzz test (issue 13): a few hundred damaged inputs, seeded, fed through the entry points a user
 * reaches (`check`, `generate`, `eval`, `score` and the loaders). Every case must end with exit 0
 * or 2, and with exit 2 print exactly one line on stderr: never a stack trace, exit 1 or a hang.
 * Most cases run in-process through the CLI's own entry (runCli) with stdout/stderr captured; a
 * few run the real `bin/colora` in a subprocess. The targets and mutators are listed in
 * test/fuzz/targets.ts (add a line there to fuzz a new input).
 *
 * COLORA_FUZZ_SEED=N picks another seed (default 13); COLORA_FUZZ_SCALE=k runs k times the cases.
 * A failing case prints the seed, the target, what was damaged and where the input was kept
 * (.fuzz-failures/ in the repository, or COLORA_FUZZ_KEEP).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../src/engine/backend.js';
import { Rng } from '../src/util/rng.js';
import { buildFixture, type Fixture } from './fuzz/fixtures.js';
import { TARGETS, type FuzzCase, type FuzzTarget } from './fuzz/targets.js';
import { REPO_ROOT } from './helpers/shared.js';
import { runColora, type CliOutcome } from './helpers/run-cli.js';

const SEED = Number(process.env.COLORA_FUZZ_SEED ?? 13);
const SCALE = Number(process.env.COLORA_FUZZ_SCALE ?? 1);
const CASE_TIMEOUT_MS = 30_000;
const SUBPROCESS_CASES = 4;
/** Where a failing case's input is kept: not under TMPDIR, which the test runner may remove. */
const KEEP = process.env.COLORA_FUZZ_KEEP ?? join(REPO_ROOT, '.fuzz-failures');

let fx: Fixture;
const failures: string[] = [];

before(async () => {
  await initBackend('auto'); // its one-time notes on stderr belong to no case
  fx = await buildFixture();
});
after(() => {
  if (fx) rmSync(fx.root, { recursive: true, force: true });
});

type Outcome = Pick<CliOutcome, 'code' | 'stderr'>;

/** Why an outcome breaks the contract, or undefined when it keeps it. */
function violation(o: Outcome): string | undefined {
  if (o.code === 'hang') return `no result within ${CASE_TIMEOUT_MS / 1000} s`;
  if (o.code !== 0 && o.code !== 2) return `exit ${o.code}`;
  if (/^\s+at .+:\d+:\d+\)?$/m.test(o.stderr)) return 'a stack trace on stderr';
  if (o.code === 2) {
    const lines = o.stderr.split('\n').filter((l) => l !== '');
    if (lines.length !== 1 || !lines[0].startsWith('colora: ')) return `exit 2 with ${lines.length} stderr lines instead of one 'colora: ...' line`;
  }
  return undefined;
}

/** Keep a failing case's input folder and describe the failure. */
function record(target: FuzzTarget, i: number, c: FuzzCase, dir: string, o: Outcome, why: string): void {
  const kept = join(KEEP, `seed${SEED}`, `${target.name.replace(/\W+/g, '-')}-${i}`);
  mkdirSync(kept, { recursive: true });
  cpSync(dir, kept, { recursive: true });
  failures.push(
    `seed ${SEED} (rerun: COLORA_FUZZ_SEED=${SEED} node --test dist/test/fuzz.test.js), ${target.name} case ${i}: ${why}\n  damage: ${c.how.slice(0, 300)}\n  input: ${c.input.replace(dir, kept)}\n` +
      `  ${c.argv ? `colora ${c.argv.map((a) => a.replace(dir, kept)).join(' ')}` : 'loader call'}\n  stderr: ${o.stderr.slice(0, 600).replace(/\n/g, '\n    ')}`,
  );
}

for (const target of TARGETS) {
  test(`fuzz: ${target.name}`, { timeout: 240_000 }, async (t) => {
    const n = Math.max(1, Math.round(target.cases * SCALE));
    const codes = { 0: 0, 2: 0 } as Record<number, number>;
    const before = failures.length;
    for (let i = 0; i < n; i++) {
      const rng = Rng.derive(SEED, 'fuzz', target.name, i);
      const dir = join(fx.root, 'cases', `${target.name.replace(/\W+/g, '-')}-${i}`);
      mkdirSync(dir, { recursive: true });
      const c = target.make(rng, fx, dir);
      const o = await runColora(c.argv ?? c.call!, CASE_TIMEOUT_MS);
      const why = violation(o);
      if (why) record(target, i, c, dir, o, why);
      else codes[o.code as number]++;
      rmSync(dir, { recursive: true, force: true });
    }
    t.diagnostic(`${n} cases: ${codes[0]} exit 0, ${codes[2]} exit 2`);
    const mine = failures.slice(before);
    assert.equal(mine.length, 0, `${mine.length} of ${n} cases broke the contract:\n${mine.slice(0, 12).join('\n')}`);
    // A target whose every case exits 0 damages nothing; one whose every case exits 2 may never reach the code behind the checks.
    assert.ok(codes[2] > 0, `${target.name}: no case was refused (exit 2): the mutators damage nothing`);
  });
}

test('fuzz: a few cases through the real bin/colora in a subprocess', { timeout: 240_000 }, () => {
  const bin = join(REPO_ROOT, 'bin', 'colora');
  assert.ok(existsSync(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')), 'needs the built CLI (npm test builds it)');
  const eligible = TARGETS.filter((t) => t.subprocess !== false);
  const rng = Rng.derive(SEED, 'fuzz-subprocess');
  const seen: string[] = [];
  for (let i = 0; i < SUBPROCESS_CASES; i++) {
    const target = eligible[Math.floor(rng.next() * eligible.length)];
    const dir = join(fx.root, 'cases', `subprocess-${i}`);
    mkdirSync(dir, { recursive: true });
    const c = target.make(Rng.derive(SEED, 'fuzz-subprocess', i), fx, dir);
    if (!c.argv) continue; // loader targets have no command line
    const r = spawnSync(process.execPath, [bin, ...c.argv], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, COLORA_DEBUG: '' } });
    const stderr = (r.stderr ?? '').split('\n').filter((l) => !/OpenBLAS|^colora: backend/.test(l)).join('\n');
    const o: Outcome = { code: r.error ? 'hang' : (r.status ?? 1), stderr };
    const why = violation(o);
    if (why) record(target, i, c, dir, o, `(subprocess) ${why}`);
    seen.push(`${target.name}: exit ${o.code}`);
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(seen.length > 0, 'no subprocess case ran');
  assert.deepEqual(failures.filter((f) => f.includes('(subprocess)')), []);
});
