/**
 * What a config asks to compute, counted before anything runs, so that `check`, `train` and
 * `sweep` say so when it is a lot (a typo such as `test_per_task: 5000` otherwise costs hours):
 * the test instances evaluated (one greedy generation each, every method including `base`) and
 * the optimizer steps trained.
 */
import type { ExperimentConfig } from './schema.js';

export interface Workload {
  /** (grouping × seed × method) runs. */
  cells: number;
  /** Test instances generated for, over all cells. */
  evaluations: number;
  /** Optimizer steps over all cells (client sampling taken into account). */
  trainSteps: number;
}

/** Above these, a warning (stderr) names the numbers; the run still starts. */
export const WARN_EVALUATIONS = 20_000;
export const WARN_TRAIN_STEPS = 50_000;

export function workload(config: ExperimentConfig): Workload {
  const groupings = config.sweep ? config.sweep.groupings : [{ clients: config.clients ?? [] }];
  const seeds = config.sweep ? config.sweep.seeds.length : 1;
  const perTask = Math.min(config.data.test_per_task, config.eval.max_instances ?? Infinity);
  const trained = config.methods.filter((m) => m !== 'base').length;
  const t = config.train;
  let evaluations = 0;
  let trainSteps = 0;
  for (const g of groupings) {
    const tasks = g.clients.reduce((s, c) => s + c.tasks.length, 0);
    evaluations += seeds * config.methods.length * tasks * perTask;
    const sampled = Math.max(1, Math.round(t.client_fraction * g.clients.length));
    trainSteps += seeds * trained * t.rounds * t.local_steps * sampled;
  }
  return { cells: groupings.length * seeds * config.methods.length, evaluations, trainSteps };
}

export function workloadWarnings(config: ExperimentConfig): string[] {
  const w = workload(config);
  const n = (x: number) => x.toLocaleString('en-US');
  const out: string[] = [];
  if (w.evaluations > WARN_EVALUATIONS)
    out.push(
      `warning: this config evaluates ${n(w.evaluations)} test instances (${n(w.cells)} runs × data.test_per_task ${config.data.test_per_task}` +
        `${config.eval.max_instances !== undefined ? `, eval.max_instances ${config.eval.max_instances}` : ''} per task, up to ${config.eval.max_new_tokens} new tokens each); ` +
        `more than ${n(WARN_EVALUATIONS)}: check data.test_per_task or set eval.max_instances`,
    );
  if (w.trainSteps > WARN_TRAIN_STEPS)
    out.push(
      `warning: this config trains ${n(w.trainSteps)} optimizer steps (train.rounds ${config.train.rounds} × train.local_steps ${config.train.local_steps} × clients, over ${n(w.cells)} runs); more than ${n(WARN_TRAIN_STEPS)}`,
    );
  return out;
}
