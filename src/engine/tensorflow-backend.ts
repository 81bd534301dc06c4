/**
 * `--backend tensorflow`: tfjs-node's TensorFlow C library backend, from
 * @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node (CPU), when the user installed one
 * (docs/gpu.md). Neither is a dependency of colora: their install scripts download libtensorflow,
 * so they are loaded by name at run time and their absence breaks nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../util/errors.js';

/** Tried in this order: the CUDA build first. */
export const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let loadedFrom: string | undefined;

/** Which package provides the backend (after startTensorflow succeeded). */
export function tensorflowPackage(): string | undefined {
  return loadedFrom;
}

/** Import the first installed package (the specifier is a variable: tsc must not resolve it). */
async function load(): Promise<string> {
  const errors: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      await import(pkg);
      return pkg;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // Installed but broken (e.g. libtensorflow or CUDA libraries missing) is worth naming.
      if (err.code !== 'ERR_MODULE_NOT_FOUND' && err.code !== 'MODULE_NOT_FOUND') errors.push(`${pkg}: ${String(err.message).split('\n')[0]}`);
    }
  }
  if (errors.length > 0) throw new UsageError(`--backend tensorflow: ${errors.join('; ')}`);
  throw new UsageError('--backend tensorflow: needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, which is not installed (docs/gpu.md); use --backend cpu');
}

/** Make tfjs-node's 'tensorflow' backend the active one. */
export async function startTensorflow(): Promise<{ pkg: string }> {
  if (!loadedFrom) loadedFrom = await load();
  let ok = false;
  try {
    ok = await tf.setBackend('tensorflow');
  } catch (e) {
    throw new UsageError(`--backend tensorflow: the tfjs-node backend failed to initialise (${(e as Error).message.split('\n')[0]})`);
  }
  if (!ok) throw new UsageError(`--backend tensorflow: ${loadedFrom} loaded but its backend failed to initialise`);
  return { pkg: loadedFrom };
}
