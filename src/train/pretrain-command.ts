/** `colora pretrain --config FILE --out DIR [--backend NAME] [--quiet]` */
import type { BackendName } from '../config/schema.js';
import { YamlSource } from '../config/yaml-source.js';
import { validateYaml } from '../config/validate.js';
import { didYouMean } from '../config/suggest.js';
import { hasBuiltinTask, listBuiltinTasks } from '../data/builtin/registry.js';
import { initBackend } from '../engine/backend.js';
import { PretrainSchema } from './pretrain-config.js';
import { pretrain } from './pretrain.js';

export async function pretrainCommand(o: { config: string; out: string; backend?: BackendName; quiet?: boolean }): Promise<void> {
  const src = YamlSource.read(o.config);
  const cfg = validateYaml(src, PretrainSchema);
  const names = listBuiltinTasks().map((t) => t.name);
  for (const [key, list] of [['hold_out', cfg.data.hold_out], ['tasks', cfg.eval.tasks]] as const)
    list.forEach((n, i) => {
      if (!hasBuiltinTask(n)) throw src.error([key === 'hold_out' ? 'data' : 'eval', key, i], `unknown built-in task '${n}'${didYouMean(n, names)}`);
    });
  if (cfg.model.n_embd % cfg.model.n_head !== 0) throw src.error(['model', 'n_head'], `n_embd (${cfg.model.n_embd}) must be divisible by n_head`);
  const backend = await initBackend(o.backend ?? 'auto');
  const r = await pretrain(cfg, o.out, { quiet: o.quiet, backend: backend.name });
  if (!o.quiet) process.stderr.write(`colora: pretrained ${o.out}: ${r.params} parameters, final loss ${r.finalLoss.toFixed(4)}, induction probe ${r.inductionLoss.toFixed(3)}, ${(r.seconds / 60).toFixed(1)} min\n`);
}
