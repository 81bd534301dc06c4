/**
 * Train/test selection (contract): test = the FIRST `testPerTask` instances of the task file,
 * NI-style; train = `trainPerTask` instances drawn with the run's seed from the rest.
 */
import { UsageError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { NiInstance, NiTask } from './ni-task.js';

export interface TaskSplit {
  task: NiTask;
  train: NiInstance[];
  test: NiInstance[];
}

export function checkTaskSize(task: NiTask, trainPerTask: number, testPerTask: number): void {
  const need = trainPerTask + testPerTask;
  if (task.instances.length < need)
    throw new UsageError(
      `${task.source === 'builtin' ? `built-in task ${task.name} supplies at most` : `${task.source}: task ${task.name} has`} ${task.instances.length} instances, but train_per_task + test_per_task = ` +
        `${trainPerTask} + ${testPerTask} = ${need} are needed (lower data.train_per_task or data.test_per_task)`,
    );
}

export function splitTask(task: NiTask, trainPerTask: number, testPerTask: number, seed: number): TaskSplit {
  checkTaskSize(task, trainPerTask, testPerTask);
  const test = task.instances.slice(0, testPerTask);
  const rest = task.instances.slice(testPerTask);
  const picked = Rng.derive(seed, 'train-split', task.name).sampleIndices(rest.length, trainPerTask);
  return { task, test, train: picked.map((i) => rest[i]) };
}
