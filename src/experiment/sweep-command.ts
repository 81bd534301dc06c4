/** `colora sweep --config FILE [--out DIR] [--resume] [--overwrite] [--backend NAME] [--tasks-dir DIR] [--quiet] [--queue URL [--artifacts DIR]]` */
import { join } from 'node:path';
import type { BackendName } from '../config/schema.js';
import { loadExperimentConfig } from '../config/load.js';
import { ColoraError, RunError, UsageError } from '../util/errors.js';
import { runSweep } from './sweep.js';

export async function sweepCommand(o: { config: string; out?: string; resume?: boolean; overwrite?: boolean; backend?: BackendName; tasksDir?: string; quiet?: boolean; queue?: string; artifacts?: string }): Promise<void> {
  if (o.artifacts && !o.queue) throw new UsageError('--artifacts goes with --queue URL (it is where workers leave cell files)');
  const loaded = loadExperimentConfig(o.config, { backend: o.backend, tasksDir: o.tasksDir });
  for (const w of loaded.warnings) process.stderr.write(`colora: ${w}\n`);
  const out = o.out ?? join('results', loaded.config.name);
  const t0 = Date.now();
  let r;
  if (o.queue) {
    // The coordinator: workers (`colora worker --queue URL`) run the cells.
    const { parseQueueUrl } = await import('../distributed/queue-url.js');
    const { probeRedis } = await import('../distributed/redis-connection.js');
    const { runCoordinatedSweep } = await import('../distributed/coordinator.js');
    const queue = parseQueueUrl(o.queue);
    await probeRedis(queue);
    r = await runCoordinatedSweep(loaded, { out, queue, artifacts: o.artifacts, quiet: o.quiet, overwrite: o.overwrite });
  } else r = await runSweep(loaded, { out, resume: o.resume, overwrite: o.overwrite, quiet: o.quiet });
  if (!o.quiet) process.stderr.write(`colora: sweep written to ${out} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  for (const e of r.expectations) process.stderr.write(`expect ${e.ok ? 'ok  ' : 'FAIL'} ${e.rule}: ${e.detail}\n`);
  const failed = r.expectations.filter((e) => !e.ok);
  if (failed.length) throw new ColoraError(`${failed.length} of ${r.expectations.length} expect: rules failed (${failed.map((f) => f.rule).join('; ')})`, 3);
  if (r.nanStopped) throw new RunError('training stopped on a non-finite loss');
}
