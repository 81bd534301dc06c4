/**
 * Where tasks come from: `builtin` (seeded generators, the offline default) or a directory of
 * Natural Instructions task files (`tasks/`, or an NI checkout whose `tasks/` holds them).
 * Task names are file names without `.json`, so configs switch between real and built-in data by
 * changing only `tasks_dir`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../util/errors.js';
import { didYouMean } from '../config/suggest.js';
import { readTaskFile, type NiTask } from './ni-task.js';
import { builtinTask, hasBuiltinTask, listBuiltinTasks } from './builtin/registry.js';

/** Instances generated per built-in task: a fixed count and seed, so that the test set (the first
 * N instances) is the same whatever the run's seed, as with a task file. */
export const BUILTIN_INSTANCES = 1000;
export const BUILTIN_SEED = 0;
/** The most instances a built-in task supplies (more are generated only when train + test need
 * them): Super-NaturalInstructions' own cap per task file, 6,500. Asking for more is refused with
 * the numbers, as for a short task file, so a typo in test_per_task cannot start 10⁵ evaluations. */
export const BUILTIN_MAX_INSTANCES = 6500;

export interface TaskSource {
  /** `builtin` or the resolved directory. */
  readonly location: string;
  names(): string[];
  has(name: string): boolean;
  /** Load a task; an unknown name is a UsageError with a suggestion. */
  load(name: string, minInstances?: number): NiTask;
}

class BuiltinSource implements TaskSource {
  readonly location = 'builtin';
  private cache = new Map<string, NiTask>();
  names(): string[] {
    return listBuiltinTasks().map((t) => t.name);
  }
  has(name: string): boolean {
    return hasBuiltinTask(name);
  }
  load(name: string, minInstances = 0): NiTask {
    if (!this.has(name)) throw new UsageError(`unknown built-in task '${name}'${didYouMean(name, this.names())}`);
    const n = Math.min(Math.max(BUILTIN_INSTANCES, minInstances), BUILTIN_MAX_INSTANCES);
    const key = `${name}/${n}`;
    let task = this.cache.get(key);
    if (!task) {
      task = builtinTask(name, { instances: n, seed: BUILTIN_SEED });
      this.cache.set(key, task);
    }
    return task;
  }
}

class DirectorySource implements TaskSource {
  private cache = new Map<string, NiTask>();
  private listing: string[] | undefined;
  constructor(readonly location: string) {}
  names(): string[] {
    this.listing ??= readdirSync(this.location)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .sort();
    return this.listing;
  }
  has(name: string): boolean {
    return existsSync(join(this.location, `${name}.json`));
  }
  load(name: string): NiTask {
    if (!this.has(name))
      throw new UsageError(`${this.location}: no task file ${name}.json${didYouMean(name, this.names())}`);
    let task = this.cache.get(name);
    if (!task) {
      task = readTaskFile(join(this.location, `${name}.json`));
      this.cache.set(name, task);
    }
    return task;
  }
}

const builtin = new BuiltinSource();
const directories = new Map<string, DirectorySource>();

/** `tasks_dir` → a task source. Relative paths resolve against the current directory. */
export function openTaskSource(tasksDir: string): TaskSource {
  if (tasksDir === 'builtin') return builtin;
  let dir = resolve(tasksDir);
  if (!existsSync(dir)) throw new UsageError(`data.tasks_dir: directory not found: ${tasksDir} (or use 'builtin')`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`data.tasks_dir: not a directory: ${tasksDir}`);
  const hasJson = (d: string) => readdirSync(d).some((f) => f.endsWith('.json'));
  if (!hasJson(dir) && existsSync(join(dir, 'tasks')) && hasJson(join(dir, 'tasks'))) dir = join(dir, 'tasks');
  if (!hasJson(dir)) throw new UsageError(`data.tasks_dir: ${tasksDir} holds no task .json files`);
  let src = directories.get(dir);
  if (!src) directories.set(dir, (src = new DirectorySource(dir)));
  return src;
}
