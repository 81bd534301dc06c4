/**
 * How many threads OpenBLAS gets (it reads OPENBLAS_NUM_THREADS once, when the library loads).
 *
 * Unless the user set it (COLORA_BLAS_THREADS or OPENBLAS_NUM_THREADS), every CPU on an idle
 * machine, one thread on a busy one: OpenBLAS's threads meet at a barrier inside every GEMM, and a
 * descheduled thread stalls the others (measured here at load ~5 on 2 CPUs: 4.3–4.8k train
 * tokens/s with 1 thread, 4.1–4.4k with 2; on the idle machine a 1016×768×256 sgemm ran at
 * 158 GFLOP/s on 1 thread and 291 on 2).
 *
 * "Busy" is judged from the CPUs' use over the last 100 ms (/proc/stat), asked only when the
 * 1-minute load average is high: that average lags by minutes, so right after another heavy run
 * it still says "busy" on a machine that is idle now (1 thread there cost 20–35 %).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

/** CPUs in use by anyone over the last `ms` milliseconds (this process sleeps meanwhile); undefined without /proc/stat. */
export function busyCpusNow(ms = 100): number | undefined {
  const sample = (): [number, number] | undefined => {
    try {
      const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      if (f.length < 5 || f.some((x) => !Number.isFinite(x))) return undefined;
      const total = f.reduce((a, b) => a + b, 0);
      return [total, f[3] + f[4]]; // idle + iowait
    } catch {
      return undefined;
    }
  };
  const a = sample();
  if (!a) return undefined;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const b = sample();
  if (!b || b[0] <= a[0]) return undefined;
  const cpus = availableParallelism();
  return (cpus * (b[0] - a[0] - (b[1] - a[1]))) / (b[0] - a[0]);
}

export interface ThreadChoice {
  threads: number;
  /** e.g. '2 (auto: load 1.9 on 2 CPUs, 0.1 busy now)'. */
  reason: string;
}

/** The rule, given the machine's numbers (busyNow is asked only when the load average is high). */
export function chooseBlasThreads(env: Record<string, string | undefined>, cpus: number, load: number, busyNow: () => number | undefined): ThreadChoice {
  const explicit = env.COLORA_BLAS_THREADS ?? env.OPENBLAS_NUM_THREADS;
  if (explicit !== undefined && /^\d+$/.test(explicit.trim()) && Number(explicit) > 0) return { threads: Number(explicit), reason: `${Number(explicit)} (set)` };
  const what = `load ${load.toFixed(1)} on ${cpus} CPUs`;
  if (load <= cpus - 0.5) return { threads: cpus, reason: `${cpus} (auto: ${what})` };
  const busy = busyNow();
  if (busy === undefined) return { threads: 1, reason: `1 (auto: ${what})` };
  const threads = busy < 0.5 ? cpus : 1;
  return { threads, reason: `${threads} (auto: ${what}, ${busy.toFixed(1)} busy now)` };
}

/** Choose, and set OPENBLAS_NUM_THREADS for the library about to load. */
export function setBlasThreads(): string {
  const c = chooseBlasThreads(process.env, availableParallelism(), loadavg()[0], () => busyCpusNow());
  process.env.OPENBLAS_NUM_THREADS = String(c.threads);
  return c.reason;
}
