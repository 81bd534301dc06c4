/**
 * `colora train`: every method of the config on its clients, one after another, in one run
 * directory (locked while it runs). Each finished method is committed as a cell record
 * (methods/<method>/cell.json, with the fingerprint of everything that changes its numbers) and
 * the run-level files are rebuilt from the records, so a killed run keeps every finished method.
 * A rerun with the same config into the same --out reuses the finished methods and resumes the
 * unfinished one at its last finished round; one with a changed config is refused, naming what
 * differs, unless `overwrite` starts over.
 */
import type { LoadedConfig } from '../config/load.js';
import { openTaskSource } from '../data/task-source.js';
import { modelIdentity } from '../model/identity.js';
import { removeStaleTempFiles, writeFileAtomic } from '../util/atomic.js';
import { writeReport } from '../report/report-command.js';
import { encoderOf, openSession, type ModelSession } from './session.js';
import { prepareClients } from './prepare-data.js';
import { runMethod, TrainingStopped } from './run-method.js';
import type { ResultRow, RoundLog } from './records.js';
import { jsonl, writeLog } from './results-files.js';
import { rebuildRunFiles, runFile, writeCellRecord, writeResolvedConfig, type StopLog } from './run-layout.js';
import { withRunLock } from './run-lock.js';
import { planCells } from './resume-plan.js';
import { subspaceSimilarityRows } from '../report/subspace-similarity.js';

export interface TrainOptions {
  out: string;
  quiet?: boolean;
  evaluate?: boolean;
  /** Remove what --out holds and start over (otherwise a changed config is refused). */
  overwrite?: boolean;
}

export async function runExperiment(loaded: LoadedConfig, o: TrainOptions, session?: ModelSession): Promise<ResultRow[]> {
  const { config } = loaded;
  if (!config.clients) throw new Error('runExperiment needs config.clients');
  return withRunLock(o.out, async () => {
    const tasks = openTaskSource(config.data.tasks_dir);
    const evaluate = o.evaluate !== false;
    const plans = planCells(o.out, 'run', config, modelIdentity(loaded.modelDir), tasks, { overwrite: o.overwrite, needRows: evaluate });
    const stale = removeStaleTempFiles(o.out);
    if (stale.length && !o.quiet) process.stderr.write(`colora: removed ${stale.length} temporary file${stale.length > 1 ? 's' : ''} left by an interrupted run\n`);
    writeResolvedConfig(o.out, config);
    const s = session ?? (await openSession(loaded.modelDir, config.backend));
    const clients = prepareClients(config.clients!, config.data, tasks, encoderOf(s), config.seed);
    const notes = runNotes(config.name, s);
    const unevaluated: RoundLog[] = [];
    let stop: StopLog | undefined;
    for (const plan of plans) {
      if (plan.reuse) continue;
      const { method } = plan.cell;
      const t0 = Date.now();
      let outcome;
      try {
        outcome = await runMethod({ session: s, modelName: config.model, config, seed: config.seed, grouping: 'default', method, clients, dir: plan.dir, quiet: o.quiet, evaluate, inputs: plan.inputs });
      } catch (e) {
        if (!(e instanceof TrainingStopped)) throw e;
        stop = e.stop;
        await finish(o.out, loaded, s.backend, notes, evaluate, unevaluated, stop, o.quiet);
        throw e;
      }
      if (!evaluate) {
        // No rows, so no cell record: the round checkpoint is what a later run resumes from.
        unevaluated.push(...outcome.log);
        writeLog(runFile(o.out, 'log'), unevaluated);
        continue;
      }
      const a = outcome.adapters;
      const similarity = a ? subspaceSimilarityRows({ grouping: 'default', seed: config.seed, method }, a.states, a.config.rank, a.config.alpha / a.config.rank, [1, a.config.rank]) : undefined;
      writeCellRecord(o.out, 'run', { grouping: 'default', seed: config.seed, method, rows: outcome.rows, log: outcome.log, similarity, seconds: (Date.now() - t0) / 1000, backend: s.backend, fingerprint: plan.fingerprint, inputs: plan.inputs }, outcome.predictions);
      rebuildRunFiles(o.out, config, { backend: s.backend, kind: 'run' });
    }
    return finish(o.out, loaded, s.backend, notes, evaluate, unevaluated, stop, o.quiet);
  });
}

/** The run-level files from the finished methods (and a stop, if any), then the report. */
async function finish(out: string, loaded: LoadedConfig, backend: string, notes: string[], evaluate: boolean, unevaluated: RoundLog[], stop: StopLog | undefined, quiet?: boolean): Promise<ResultRow[]> {
  if (!evaluate) {
    writeFileAtomic(runFile(out, 'log'), jsonl(stop ? [...unevaluated, stop] : unevaluated));
    return [];
  }
  const { rows } = rebuildRunFiles(out, loaded.config, { backend, stop, kind: 'run' });
  try {
    await writeReport(out, { notes });
  } catch (e) {
    // The results are complete; a failed figure must not fail the run (`colora report` retries).
    if (!quiet) process.stderr.write(`colora: report not written: ${(e as Error).message}\n`);
  }
  return rows;
}

export function runNotes(name: string, s: ModelSession): string[] {
  return [`Run \`${name}\` with model \`${s.modelDir}\` on backend \`${s.backend}\`.`];
}
