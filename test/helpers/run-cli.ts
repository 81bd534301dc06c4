/**
 * Run a `colora` command line in this process (runCli, the same entry bin/colora uses) with its
 * stdout and stderr captured: milliseconds per call instead of a subprocess start.
 */
import { runCli, runGuarded } from '../../src/cli/main.js';

export interface CliOutcome {
  code: number | 'hang';
  stdout: string;
  stderr: string;
}

/**
 * `args` are colora's arguments, or a function run as a command (runGuarded). The commands write
 * strings; node:test's reporter writes Buffers to the same stdout at any moment, and those go
 * through untouched.
 */
export async function runColora(args: string[] | (() => Promise<unknown>), timeoutMs = 60_000): Promise<CliOutcome> {
  const out = process.stdout.write;
  const err = process.stderr.write;
  let stdout = '';
  let stderr = '';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (out as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stderr.write;
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = Array.isArray(args) ? runCli(['node', 'colora', ...args]) : runGuarded(args);
    const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), timeoutMs)));
    const code = await Promise.race([run, hang]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
