/**
 * Per-kernel time profile of whatever runs on the active tfjs backend: every registered kernel
 * of the backend is wrapped with a timer while profiling and restored afterwards. Kernels of the
 * CPU backends call each other as plain functions, never through the registry, so each call is
 * counted once (self time). Garbage-collection pauses are collected alongside; wall time minus
 * kernels minus GC is the framework's own overhead (tape, tensor bookkeeping, model code).
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';

export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
}

export interface Profile {
  wallMs: number;
  kernelMs: number;
  gcMs: number;
  /** Kernels, most expensive first. */
  kernels: KernelTime[];
}

/** Run `f` with every kernel of the active backend timed. */
export async function profileKernels(f: () => void | Promise<void>): Promise<Profile> {
  const backendName = tf.getBackend();
  const originals = tf.getKernelsForBackend(backendName);
  const times = new Map<string, KernelTime>();
  for (const k of originals) {
    const inner = k.kernelFunc;
    const entry: KernelTime = { kernel: k.kernelName, ms: 0, calls: 0 };
    times.set(k.kernelName, entry);
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          entry.ms += performance.now() - t0;
          entry.calls++;
        }
      },
    });
  }
  let gcMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  try {
    await f();
  } finally {
    const wallMs = performance.now() - t0;
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, backendName);
      tf.registerKernel(k);
    }
    // Deliver pending GC entries before disconnecting.
    await new Promise((r) => setImmediate(r));
    obs.disconnect();
    const kernels = [...times.values()].filter((k) => k.calls > 0).sort((a, b) => b.ms - a.ms);
    const kernelMs = kernels.reduce((s, k) => s + k.ms, 0);
    // eslint-disable-next-line no-unsafe-finally
    return { wallMs, kernelMs, gcMs, kernels };
  }
}

/** A fixed-width table of a profile (top `limit` kernels). */
export function formatProfile(title: string, p: Profile, limit = 20): string {
  const pct = (ms: number) => `${((100 * ms) / p.wallMs).toFixed(1).padStart(5)}%`;
  const lines = [`${title}: wall ${p.wallMs.toFixed(1)} ms = kernels ${p.kernelMs.toFixed(1)} ms + GC ${p.gcMs.toFixed(1)} ms + other ${(p.wallMs - p.kernelMs - p.gcMs).toFixed(1)} ms`];
  for (const k of p.kernels.slice(0, limit)) {
    lines.push(`  ${k.kernel.padEnd(28)} ${k.ms.toFixed(2).padStart(9)} ms ${pct(k.ms)}  ${String(k.calls).padStart(5)} calls`);
  }
  return lines.join('\n');
}
