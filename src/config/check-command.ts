/** `colora check --config FILE`: validate as train/sweep would, print the resolved config. */
import { loadExperimentConfig } from './load.js';
import { toResolvedYaml } from './resolved.js';

export async function checkCommand(opts: { config: string; tasksDir?: string }): Promise<void> {
  const { config, warnings } = loadExperimentConfig(opts.config, { tasksDir: opts.tasksDir });
  for (const w of warnings) process.stderr.write(`colora: ${w}\n`);
  process.stdout.write(toResolvedYaml(config));
}
