/** `config.resolved.yaml`: the config with every default filled in, as the run used it. */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../util/atomic.js';

export function toResolvedYaml(config: unknown): string {
  return stringify(config, { lineWidth: 0, aliasDuplicateObjects: false });
}

export function writeResolvedConfig(dir: string, config: unknown): string {
  const path = join(dir, 'config.resolved.yaml');
  writeFileAtomic(path, toResolvedYaml(config));
  return path;
}
