/**
 * Which cells of a run or sweep directory a run may reuse. A finished cell (cell.json) is reused
 * only when its fingerprint matches the cell's inputs under the new config; a started one (a round
 * checkpoint) resumes only when its training fingerprint matches. Any other finished or started
 * cell is a UsageError (exit 2) naming the keys that differ, old → new, and nothing is written;
 * `overwrite` removes the old cells instead and starts over.
 */
import type { ExperimentConfig } from '../config/schema.js';
import type { TaskSource } from '../data/task-source.js';
import type { ModelIdentity } from '../model/identity.js';
import { readCheckpointMeta } from '../train/round-checkpoint.js';
import { UsageError } from '../util/errors.js';
import { cellInputs, diffInputs, fingerprintOf, trainingInputs, type CellInputs } from './cell-fingerprint.js';
import { cellDir, checkpointDir, clearRunDir, kindOnDisk, readCellRecord, runCells, type Cell, type CellRecord, type RunKind } from './run-layout.js';

export interface CellPlan {
  cell: Cell;
  dir: string;
  inputs: CellInputs;
  fingerprint: string;
  /** The finished record to reuse; undefined when the cell must run (or resume from its checkpoint). */
  reuse?: CellRecord;
}

export interface PlanOptions {
  overwrite?: boolean;
  /** Reuse a record only if it holds evaluated rows (train --no-eval writes none). */
  needRows?: boolean;
}

const MAX_SHOWN = 6;
const OLDER = 'settings unknown (written by an older colora, which did not record them)';

export function planCells(runDir: string, kind: RunKind, config: ExperimentConfig, model: ModelIdentity, tasks: TaskSource, o: PlanOptions = {}): CellPlan[] {
  const onDisk = kindOnDisk(runDir);
  if (!o.overwrite && onDisk && onDisk !== kind)
    throw new UsageError(`${runDir} holds a ${onDisk === 'sweep' ? 'sweep (cells/)' : 'run of `colora train` (methods/)'}; choose another --out, or pass --overwrite to replace it`);
  const plans: CellPlan[] = runCells(config, kind).map((cell) => {
    const inputs = cellInputs(config, model, tasks, cell);
    return { cell, dir: cellDir(runDir, kind, cell), inputs, fingerprint: fingerprintOf(inputs) };
  });
  if (o.overwrite) {
    clearRunDir(runDir);
    return plans;
  }
  const stale: { dir: string; diff: string[] }[] = [];
  for (const plan of plans) {
    const { dir, inputs, fingerprint } = plan;
    const record = readCellRecord(dir);
    if (record) {
      if (record.fingerprint === fingerprint) {
        if (!o.needRows || record.rows.length > 0) plan.reuse = record;
      } else stale.push({ dir, diff: record.inputs ? diffInputs(record.inputs as CellInputs, inputs) : [OLDER] });
      continue;
    }
    const ckpt = readCheckpointMeta(checkpointDir(dir));
    const training = trainingInputs(inputs);
    if (ckpt && ckpt.fingerprint !== fingerprintOf(training))
      stale.push({ dir, diff: ckpt.inputs ? diffInputs(trainingInputs(ckpt.inputs as CellInputs), training) : [OLDER] });
  }
  if (stale.length) {
    const keys = [...new Set(stale.flatMap((s) => s.diff))];
    const shown = keys.slice(0, MAX_SHOWN).join('; ') + (keys.length > MAX_SHOWN ? `; and ${keys.length - MAX_SHOWN} more` : '');
    const what = kind === 'sweep' ? 'cell' : 'method';
    throw new UsageError(
      `${runDir}: ${stale.length} ${what}${stale.length > 1 ? 's' : ''} (${stale[0].dir.slice(runDir.length + 1)}${stale.length > 1 ? ', …' : ''}) ran under another config: ${shown}; ` +
        `rerun with that config, choose another --out, or pass --overwrite to remove the old results and start over`,
    );
  }
  return plans;
}
