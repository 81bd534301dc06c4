/**
 * `colora data generate --out DIR [--task NAME ...] [--instances N] [--seed N]`: write built-in
 * tasks as Natural Instructions task files (`DIR/<task>.json`), which `readTaskFile` reads back
 * to the same task. Every name is checked before anything is written.
 */
import { join } from 'node:path';
import { taskToJson } from './ni-task.js';
import { builtinSpec, builtinTask, hasBuiltinTask, listBuiltinTasks } from './builtin/registry.js';
import { didYouMean } from '../config/suggest.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';

export interface DataGenerateOptions {
  out: string;
  task?: string[];
  instances: number;
  seed: number;
}

/** Writes the files and returns their paths. */
export function writeBuiltinTasks(opts: DataGenerateOptions, log: (line: string) => void = () => {}): string[] {
  const names = opts.task && opts.task.length > 0 ? [...new Set(opts.task)] : listBuiltinTasks().map((t) => t.name);
  const known = listBuiltinTasks().map((t) => t.name);
  for (const n of names)
    if (!hasBuiltinTask(n)) throw new UsageError(`--task: unknown built-in task '${n}'${didYouMean(n, known)}`);
  const specs = names.map((n) => builtinSpec(n));
  const written: string[] = [];
  for (const spec of specs) {
    const task = builtinTask(spec.name, { instances: opts.instances, seed: opts.seed });
    const file = join(opts.out, `${spec.name}.json`);
    writeJsonAtomic(
      file,
      taskToJson(task, {
        Contributors: ['colora built-in generator'],
        Source: [`colora builtin (family ${spec.family}, seed ${opts.seed})`],
      }),
    );
    written.push(file);
    log(`wrote ${file} (${task.instances.length} instances)`);
  }
  return written;
}

export async function dataGenerateCommand(opts: Record<string, unknown>): Promise<void> {
  const out = opts.out;
  if (typeof out !== 'string' || out === '') throw new UsageError('data generate: --out DIR is required');
  const task = opts.task === undefined ? undefined : (opts.task as string[]);
  const instances = (opts.instances as number | undefined) ?? 200;
  const seed = (opts.seed as number | undefined) ?? 0;
  const files = writeBuiltinTasks({ out, task, instances, seed }, (line) => process.stderr.write(`${line}\n`));
  process.stderr.write(`${files.length} task file(s) written to ${out}\n`);
}
