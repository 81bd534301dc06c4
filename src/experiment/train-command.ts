/** `colora train --config FILE [--out DIR] [--backend NAME] [--seed N] [--tasks-dir DIR] [--no-eval] [--overwrite] [--quiet]` */
import { join } from 'node:path';
import type { BackendName } from '../config/schema.js';
import { loadExperimentConfig } from '../config/load.js';
import { UsageError } from '../util/errors.js';
import { runExperiment } from './run-experiment.js';

export interface TrainCommandOptions {
  config: string;
  out?: string;
  backend?: BackendName;
  seed?: number;
  tasksDir?: string;
  eval?: boolean;
  overwrite?: boolean;
  quiet?: boolean;
}

export async function trainCommand(o: TrainCommandOptions): Promise<void> {
  const loaded = loadExperimentConfig(o.config, { seed: o.seed, backend: o.backend, tasksDir: o.tasksDir });
  if (!loaded.config.clients)
    throw new UsageError(`${o.config}: has no top-level 'clients' (it is a sweep config: run it with \`colora sweep\`)`);
  for (const w of loaded.warnings) process.stderr.write(`colora: ${w}\n`);
  const out = o.out ?? join('results', loaded.config.name);
  const t0 = Date.now();
  await runExperiment(loaded, { out, quiet: o.quiet, evaluate: o.eval, overwrite: o.overwrite });
  if (!o.quiet) process.stderr.write(`colora: run written to ${out} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
}
