/**
 * `colora eval --run DIR [--max-instances N]`: evaluate the saved adapters of a finished run (or of
 * every finished cell of a sweep) again, with the run's resolved config, and rewrite its
 * predictions, results.csv and summary.md (the same sections train and sweep write), holding the
 * directory's lock.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendName, MethodName } from '../config/schema.js';
import { YamlSource } from '../config/yaml-source.js';
import { parseExperimentConfig } from '../config/load.js';
import { resolveModelDir } from '../model/checkpoint.js';
import { openTaskSource } from '../data/task-source.js';
import { fitAdapter, loadAdapter } from '../adapters/peft-io.js';
import type { AdaptableModel } from '../adapters/inject.js';
import type { AdapterConfig } from '../adapters/config.js';
import type { AdapterState } from '../adapters/state.js';
import { UsageError } from '../util/errors.js';
import { removeStaleTempFiles, writeFileAtomic } from '../util/atomic.js';
import { writeReport } from '../report/report-command.js';
import { withRunLock } from './run-lock.js';
import { summaryMarkdown } from '../report/tables.js';
import { encoderOf, openSession } from './session.js';
import { prepareClients } from './prepare-data.js';
import { evaluateClients, type EvalAdapters } from './run-method.js';
import type { ClientPrediction, ResultRow } from './records.js';
import { adaptersDir, cellDir, kindOnDisk, runAxes, runFile } from './run-layout.js';
import { writePredictions, writeResultsCsv } from './results-files.js';

export async function evalCommand(o: { run: string; maxInstances?: number; backend?: BackendName; quiet?: boolean }): Promise<void> {
  const cfgFile = runFile(o.run, 'resolvedConfig');
  if (!existsSync(cfgFile)) throw new UsageError(`${o.run}: not a run directory (no config.resolved.yaml)`);
  const config = parseExperimentConfig(YamlSource.read(cfgFile), { backend: o.backend });
  if (o.maxInstances !== undefined) config.eval.max_instances = o.maxInstances;
  await withRunLock(o.run, async () => {
    const stale = removeStaleTempFiles(o.run);
    if (stale.length && !o.quiet) process.stderr.write(`colora: removed ${stale.length} temporary file${stale.length > 1 ? 's' : ''} left by an interrupted run\n`);
    const s = await openSession(resolveModelDir(config.model), config.backend);
    const tasks = openTaskSource(config.data.tasks_dir);
    const kind = kindOnDisk(o.run) ?? 'run';
    const rows: ResultRow[] = [];
    const preds: ClientPrediction[] = [];
    let evaluated = 0;
    const { groupings, seeds } = runAxes(config, kind);
    for (const grouping of groupings)
      for (const seed of seeds) {
        const clients = prepareClients(grouping.clients, config.data, tasks, encoderOf(s), seed);
        for (const method of config.methods) {
          const dir = cellDir(o.run, kind, { grouping: grouping.name, seed, method });
          const adapters = method === 'base' ? undefined : readAdapters(s.model, dir, clients.map((c) => c.name), method);
          if (adapters === null) continue; // not trained (yet)
          const r = await evaluateClients(
            { session: s, modelName: config.model, config, seed, grouping: grouping.name, method, clients, dir, quiet: o.quiet },
            adapters,
          );
          rows.push(...r.rows);
          preds.push(...r.predictions);
          evaluated++;
        }
      }
    if (evaluated === 0) throw new UsageError(`${o.run}: no trained adapters found to evaluate`);
    writeResultsCsv(runFile(o.run, 'results'), rows);
    writePredictions(runFile(o.run, 'predictions'), preds);
    // The same summary.md as train and sweep write (overview, subspace similarity, figures).
    const note = `Re-evaluated by \`colora eval\` on backend \`${s.backend}\`${o.maxInstances ? ` (first ${o.maxInstances} test instances per task)` : ''}.`;
    try {
      await writeReport(o.run, { notes: [note] });
    } catch (e) {
      writeFileAtomic(runFile(o.run, 'summary'), summaryMarkdown(config.name, rows, [note, `The report could not be drawn: ${(e as Error).message}`]));
    }
    if (!o.quiet) process.stderr.write(`colora: evaluated ${evaluated} method runs in ${o.run}\n`);
  });
}

/** Every client's saved adapter of a method, or null when the method has not finished training. */
function readAdapters(model: AdaptableModel, dir: string, clients: string[], method: MethodName): EvalAdapters | undefined | null {
  const states = new Map<string, AdapterState>();
  let config: AdapterConfig | undefined;
  let first = '';
  for (const c of clients) {
    const d = adaptersDir(dir, c);
    if (!existsSync(join(d, 'adapter_config.json'))) return null;
    const a = fitAdapter(model, d, loadAdapter(d));
    if (config && (a.config.rank !== config.rank || a.config.alpha !== config.alpha || a.config.personal !== config.personal))
      throw new UsageError(`${d}: r ${a.config.rank}, lora_alpha ${a.config.alpha} differ from ${first} (r ${config.rank}, lora_alpha ${config.alpha}); one method's clients share one adapter shape`);
    if (!config) first = d;
    config = a.config;
    states.set(c, a.state);
  }
  if (!config) throw new UsageError(`${dir}: ${method} has no clients`);
  return { config, stateFor: (c) => states.get(c)!, sourceOf: (c) => join(dir, 'adapters', c) };
}
