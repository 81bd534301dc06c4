/**
 * `colora train`: every method of the config on its clients, one after another, in one run
 * directory. After each method the result files are rewritten (atomically), so a killed run keeps
 * every finished method, and a rerun with the same --out resumes the unfinished method at its last
 * finished round.
 */
import type { LoadedConfig } from '../config/load.js';
import { openTaskSource } from '../data/task-source.js';
import { writeFileAtomic } from '../util/atomic.js';
import { summaryMarkdown } from '../report/tables.js';
import { writeReport } from '../report/report-command.js';
import { encoderOf, openSession, type ModelSession } from './session.js';
import { prepareClients } from './prepare-data.js';
import { runMethod, type ClientPrediction, type ResultRow, type RoundLog } from './run-method.js';
import { writeLog, writePredictions, writeResultsCsv } from './results-files.js';
import { cellDir, runFile, writeResolvedConfig } from './run-layout.js';

export interface TrainOptions {
  out: string;
  quiet?: boolean;
  evaluate?: boolean;
}

export async function runExperiment(loaded: LoadedConfig, o: TrainOptions, session?: ModelSession): Promise<ResultRow[]> {
  const { config } = loaded;
  if (!config.clients) throw new Error('runExperiment needs config.clients');
  writeResolvedConfig(o.out, config);
  const s = session ?? (await openSession(loaded.modelDir, config.backend));
  const clients = prepareClients(config.clients, config.data, openTaskSource(config.data.tasks_dir), encoderOf(s), config.seed);
  const rows: ResultRow[] = [];
  const preds: ClientPrediction[] = [];
  const log: RoundLog[] = [];
  for (const method of config.methods) {
    const outcome = await runMethod({
      session: s,
      modelName: config.model,
      config,
      seed: config.seed,
      grouping: 'default',
      method,
      clients,
      dir: cellDir(o.out, 'run', { grouping: 'default', seed: config.seed, method }),
      quiet: o.quiet,
      evaluate: o.evaluate,
    });
    rows.push(...outcome.rows);
    preds.push(...outcome.predictions);
    log.push(...outcome.log);
    writeLog(runFile(o.out, 'log'), log);
    if (o.evaluate !== false) {
      writeResultsCsv(runFile(o.out, 'results'), rows);
      writePredictions(runFile(o.out, 'predictions'), preds);
      writeFileAtomic(runFile(o.out, 'summary'), summaryMarkdown(`${config.name}`, rows, runNotes(config.name, s)));
    }
  }
  if (o.evaluate !== false) {
    try {
      await writeReport(o.out, { notes: runNotes(config.name, s) });
    } catch (e) {
      // The results are complete; a failed figure must not fail the run (`colora report` retries).
      if (!o.quiet) process.stderr.write(`colora: report not written: ${(e as Error).message}\n`);
    }
  }
  return rows;
}

export function runNotes(name: string, s: ModelSession): string[] {
  return [`Run \`${name}\` with model \`${s.modelDir}\` on backend \`${s.backend}\`.`];
}
