/**
 * For the queue tests: `colora` processes (coordinator, workers) spawned from the built CLI with
 * their stderr collected, a tiny sweep config, and the comparison of a sweep directory with the
 * in-process reference (results.csv, similarity.csv and every adapter file, byte for byte).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import assert from 'node:assert/strict';
import { REPO_ROOT } from './shared.js';
import { tempDir as removedTempDir } from './temp.js';

export const CLI = join(REPO_ROOT, 'bin', 'colora');
export const BUILT = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliProcess {
  proc: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when stderr matches (rejects after timeoutMs). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn `colora ARGS`; every process is killed by `killAll` (register it with after()). */
export function spawnCli(args: string[], env: Record<string, string> = {}, registry?: CliProcess[]): CliProcess {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) if (w.re.test(err)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  };
  proc.stderr!.on('data', (d) => ((err += d.toString()), check()));
  proc.stdout!.on('data', () => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const p: CliProcess = {
    proc,
    stderr: () => err,
    exited,
    waitFor(re, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        if (re.test(err)) return resolve();
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in stderr of colora ${args[0]}:\n${err}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
        void exited.then(() => setTimeout(() => (re.test(err) ? undefined : (clearTimeout(timer), reject(new Error(`colora ${args[0]} exited before ${re}:\n${err}`)))), 50));
      });
    },
  };
  registry?.push(p);
  return p;
}

export async function killAll(ps: CliProcess[]): Promise<void> {
  for (const p of ps) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await Promise.all(ps.map((p) => p.exited));
}

/** A sweep of 4 tiny cells (1 grouping × 2 seeds × local, colora) on the model in modelDir. */
export function writeTinySweepConfig(dir: string, modelDir: string, name = 'queue', o: { distribute?: 'clients'; seeds?: number[]; pinned?: boolean } = {}): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
model: ${modelDir}
backend: cpu
data: { tasks_dir: builtin, train_per_task: 8, test_per_task: 3, max_source_tokens: 160, max_target_tokens: 8 }
adapter: { rank: 2, alpha: 4, targets: [attn.c_attn] }
methods: [local, colora]
train: { rounds: 2, local_steps: 2, batch_size: 4, lr: 0.01${o.distribute ? `, distribute: ${o.distribute}` : ''} }
eval: { max_new_tokens: 4, batch_size: 8 }
sweep:
  seeds: [${(o.seeds ?? [0, 1]).join(', ')}]
  groupings:
    - name: g
      clients: [{ name: a, tasks: [task205_remove_even_elements]${o.pinned ? ', pinned: true' : ''} }, { name: b, tasks: [task369_synthetic_remove_odds] }]
`,
  );
  return file;
}

function files(root: string, dir = root, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(root, p, out);
    else out.push(relative(root, p));
  }
  return out;
}

/** results.csv, similarity.csv and every adapter file equal, byte for byte. */
export function assertSameSweep(reference: string, out: string): void {
  for (const f of ['results.csv', 'similarity.csv']) assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(reference, f), 'utf8'), `${f} differs`);
  const adapters = files(join(reference, 'cells')).filter((f) => f.includes('/adapters/'));
  assert.ok(adapters.length > 0);
  for (const f of adapters) assert.ok(readFileSync(join(out, 'cells', f)).equals(readFileSync(join(reference, 'cells', f))), `${f} differs`);
}

/** A temporary directory removed when the test process exits (helpers/temp.ts). */
export function tempDir(prefix: string): string {
  return removedTempDir(prefix);
}

export const builtSkip = existsSync(BUILT) ? false : `needs the built CLI (${BUILT}); run npm test`;

/** Every file under dir, concatenated (to search it for a secret). */
export function allText(dir: string): string {
  return files(dir)
    .map((f) => readFileSync(join(dir, f)).toString('latin1'))
    .join('\n');
}
