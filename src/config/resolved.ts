/** `config.resolved.yaml`: the config with every default filled in, as the run used it. */
import { stringify } from 'yaml';

export function toResolvedYaml(config: unknown): string {
  return stringify(config, { lineWidth: 0, aliasDuplicateObjects: false });
}
