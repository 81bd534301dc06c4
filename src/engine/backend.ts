/**
 * Choosing the compute backend (`--backend`, config `backend:`).
 *
 *   cpu         the fast CPU engine ('colora-cpu': tfjs cpu + OpenBLAS sgemm + fused kernels)
 *   tfjs-cpu    plain tfjs cpu kernels (the numerics reference; slow)
 *   wasm        @tensorflow/tfjs-backend-wasm
 *   webgpu      @tensorflow/tfjs-backend-webgpu on Dawn (the `webgpu` package; Vulkan on Linux)
 *   tensorflow  @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, when the user installed one
 *   auto        the first of AUTO_ORDER that initialises (webgpu not yet: see AUTO_ORDER)
 *
 * An explicit backend that cannot start is a UsageError (one line, exit 2); auto skips it. The
 * choice is reported once per process on stderr, as is a missing OpenBLAS.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import { FAST_BACKEND, registerFastBackend } from './fast-backend.js';
import { startTensorflow } from './tensorflow-backend.js';
import { describeAdapter, startWebGPU } from './webgpu-backend.js';

export interface BackendChoice {
  /** colora's name for it (cpu, tfjs-cpu, wasm, ...). */
  name: string;
  /** A caveat worth showing the user (e.g. no OpenBLAS). */
  note?: string;
}

/**
 * What `auto` tries, fastest first. webgpu is not in it yet: `colora train` finishes on it, but
 * no GPU measurement shows it ahead of the cpu engine (docs/gpu.md). It goes first once one does; `start(.., forAuto)` already
 * refuses a software adapter and auto already passes over a failed webgpu without a word.
 * tensorflow (tfjs-node) is only used when asked for: it is not installed with colora.
 */
export const AUTO_ORDER: readonly Exclude<BackendName, 'auto'>[] = ['cpu', 'wasm', 'tfjs-cpu'];

const KNOWN: readonly string[] = ['cpu', 'tfjs-cpu', 'wasm', 'webgpu', 'tensorflow'];

const said = new Set<string>();
function sayOnce(line: string): void {
  if (said.has(line)) return;
  said.add(line);
  process.stderr.write(`colora: ${line}\n`);
}

/** tfjs warns through console.warn when a backend fails to initialise; we report it ourselves. */
async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = () => {};
  try {
    return await f();
  } finally {
    console.warn = warn;
  }
}

async function setTfBackend(tfName: string): Promise<boolean> {
  try {
    return await quietly(() => tf.setBackend(tfName));
  } catch {
    return false;
  }
}

/** Start one backend; throws UsageError with the reason when it cannot. */
async function start(name: Exclude<BackendName, 'auto'>, forAuto = false): Promise<BackendChoice> {
  switch (name) {
    case 'cpu': {
      const blas = registerFastBackend();
      if (!(await setTfBackend(FAST_BACKEND))) throw new UsageError('--backend cpu: the fast CPU engine failed to initialise');
      if (blas.kind === 'js') {
        const note = `OpenBLAS (optional dependency nblas) is not available (${blas.reason}); the cpu engine falls back to JavaScript matrix products (tens of times slower; install libopenblas-dev and reinstall nblas)`;
        sayOnce(note);
        return { name, note };
      }
      return { name };
    }
    case 'tfjs-cpu': {
      if (!(await setTfBackend('cpu'))) throw new UsageError('--backend tfjs-cpu: the tfjs cpu backend failed to initialise');
      // Silence MathBackendCPU's one-time "install tfjs-node" banner: the choice here is deliberate.
      (tf.findBackend('cpu') as unknown as { firstUse?: boolean }).firstUse = false;
      return { name };
    }
    case 'wasm': {
      try {
        await import('@tensorflow/tfjs-backend-wasm');
      } catch (e) {
        throw new UsageError(`--backend wasm: @tensorflow/tfjs-backend-wasm cannot be loaded (${(e as Error).message.split('\n')[0]})`);
      }
      if (!(await setTfBackend('wasm'))) throw new UsageError('--backend wasm: the tfjs wasm backend failed to initialise');
      return { name };
    }
    case 'webgpu': {
      const r = await startWebGPU(forAuto);
      sayOnce(`webgpu adapter: ${describeAdapter(r.adapter)}`);
      if (r.note) sayOnce(r.note);
      return r.note ? { name, note: r.note } : { name };
    }
    case 'tensorflow': {
      const r = await startTensorflow();
      sayOnce(`tensorflow backend from ${r.pkg}`);
      return { name };
    }
  }
}

/** Make `name` tfjs's active backend (auto: the first of AUTO_ORDER that starts). */
export async function initBackend(name: BackendName): Promise<BackendChoice> {
  if (name !== 'auto') {
    if (!KNOWN.includes(name)) throw new UsageError(`--backend ${String(name)}: unknown backend (choose auto, ${KNOWN.join(', ')})`);
    return start(name);
  }
  const skipped: string[] = [];
  // A machine without a GPU is the common case: auto passes over webgpu without a word.
  const reported: string[] = [];
  for (const candidate of AUTO_ORDER) {
    try {
      const choice = await start(candidate, true);
      sayOnce(`backend ${candidate}${reported.length ? ` (skipped: ${reported.join('; ')})` : ''}`);
      return choice;
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      skipped.push(e.message);
      if (candidate !== 'webgpu') reported.push(e.message);
    }
  }
  throw new UsageError(`no compute backend could start: ${skipped.join('; ')}`);
}
