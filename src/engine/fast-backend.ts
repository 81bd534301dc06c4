/**
 * The fast CPU engine as a tfjs backend named 'colora-cpu'.
 *
 * Design: a second instance of tfjs's own MathBackendCPU (same data storage, same memory rules),
 * registered under a new name whose kernel table starts as a copy of every tfjs cpu kernel; the
 * kernels that dominate a GPT-2 LoRA step are then replaced (matrix products through OpenBLAS,
 * broadcasting element-wise ops, layout ops, gather) and the fused kernels behind
 * src/engine/ops.ts are added. Plain tfjs 'cpu' stays untouched, so `--backend tfjs-cpu` is the
 * reference for numerics. Replaced kernels keep tfjs's kernel as the fallback for dtypes and
 * shapes they do not cover, so any tfjs op works on this backend.
 */
import * as tf from '@tensorflow/tfjs';
import { getBlas, type Blas } from './blas.js';
import { attachPool, BufferPool } from './buffer-pool.js';
import { adamwKernel } from './kernels/adamw.js';
import { attentionGradKernel, attentionKernel, attentionQkvGradKernel, cachedAttentionKernel, attentionQkvKernel, groupedAttentionGradKernel, groupedAttentionKernel } from './kernels/attention.js';
import { rmsNormGrad, rmsNormGradKernel, rmsNormKernel, rmsNormWeightGradKernel } from './kernels/rms-norm.js';
import { rotaryGradKernel, rotaryKernel } from './kernels/rotary.js';
import { swigluGradKernel, swigluKernel } from './kernels/swiglu.js';
import { makeAdd, makeMul, makeRealDiv, makeSub } from './kernels/binary.js';
import { makeConcat } from './kernels/concat.js';
import type { Fallback, KernelArgs, TensorInfo } from './kernels/cpu-backend.js';
import { crossEntropyGrad, crossEntropyGradKernel, crossEntropyKernel } from './kernels/cross-entropy.js';
import { makeGatherV2, makeUnsortedSegmentSum } from './kernels/gather.js';
import { geluGradKernel, geluKernel } from './kernels/gelu.js';
import { layerNormGrad, layerNormGradKernel, layerNormKernel, layerNormParamGradKernel } from './kernels/layer-norm.js';
import { linearFrozenGrad, linearGrad, linearKernel, linearLowRankDxKernel, linearLowRankGrad, linearLowRankKernel } from './kernels/linear.js';
import { makeBatchMatMul } from './kernels/matmul.js';
import * as names from './kernels/names.js';
import { makeSlice, makeSplitV } from './kernels/slice.js';
import { makeSquare } from './kernels/square.js';
import { makeSum } from './kernels/sum.js';
import { makeTranspose } from './kernels/transpose.js';

export const FAST_BACKEND = 'colora-cpu';

type Kernel = (args: KernelArgs) => TensorInfo | TensorInfo[];

/** tfjs kernels replaced by a fast version (which falls back to tfjs's for what it doesn't cover). */
const OVERRIDES: Record<string, (fallback: Fallback) => Kernel> = {
  BatchMatMul: makeBatchMatMul,
  Add: makeAdd,
  Sub: makeSub,
  Multiply: makeMul,
  RealDiv: makeRealDiv,
  Transpose: makeTranspose,
  Slice: makeSlice,
  SplitV: makeSplitV,
  Concat: makeConcat,
  GatherV2: makeGatherV2,
  UnsortedSegmentSum: makeUnsortedSegmentSum,
  Sum: makeSum,
  Square: makeSquare,
};

/** The fused kernels (no tfjs counterpart). */
const FUSED: Record<string, Kernel> = {
  [names.LINEAR]: linearKernel,
  [names.LINEAR_FROZEN]: linearKernel,
  [names.LINEAR_LOW_RANK]: linearLowRankKernel,
  [names.LINEAR_LOW_RANK_DX]: linearLowRankDxKernel,
  [names.ATTENTION_QKV]: attentionQkvKernel,
  [names.ATTENTION_QKV_GRAD]: attentionQkvGradKernel,
  [names.ATTENTION_CACHED]: cachedAttentionKernel,
  [names.LAYER_NORM]: layerNormKernel,
  [names.LAYER_NORM_GRAD]: layerNormGradKernel,
  [names.LAYER_NORM_PARAM_GRAD]: layerNormParamGradKernel,
  [names.GELU_TANH]: geluKernel,
  [names.GELU_TANH_GRAD]: geluGradKernel,
  [names.ATTENTION]: attentionKernel,
  [names.ATTENTION_GRAD]: attentionGradKernel,
  [names.CROSS_ENTROPY]: crossEntropyKernel,
  [names.CROSS_ENTROPY_GRAD]: crossEntropyGradKernel,
  [names.ADAMW]: adamwKernel,
  [names.RMS_NORM]: rmsNormKernel,
  [names.RMS_NORM_GRAD]: rmsNormGradKernel,
  [names.RMS_NORM_WEIGHT_GRAD]: rmsNormWeightGradKernel,
  [names.ROTARY]: rotaryKernel,
  [names.ROTARY_GRAD]: rotaryGradKernel,
  [names.SWIGLU]: swigluKernel,
  [names.SWIGLU_GRAD]: swigluGradKernel,
  [names.ATTENTION_GQA]: groupedAttentionKernel,
  [names.ATTENTION_GQA_GRAD]: groupedAttentionGradKernel,
};

let registered = false;

function register(kernelName: string, kernelFunc: Kernel): void {
  if (tf.getKernel(kernelName, FAST_BACKEND)) tf.unregisterKernel(kernelName, FAST_BACKEND);
  tf.registerKernel({ kernelName, backendName: FAST_BACKEND, kernelFunc: kernelFunc as tf.KernelFunc });
}

/**
 * Register the 'colora-cpu' backend and its kernels (idempotent). Returns the BLAS in use, so the
 * caller can say once when OpenBLAS is missing.
 */
export function registerFastBackend(): Blas {
  const blas = getBlas();
  if (registered) return blas;
  const cpuFactory = tf.findBackendFactory('cpu');
  if (!cpuFactory) throw new Error("tfjs's cpu backend is not registered");
  tf.registerBackend(
    FAST_BACKEND,
    () => {
      const backend = cpuFactory() as tf.KernelBackend & { firstUse?: boolean };
      // MathBackendCPU prints a "use tfjs-node" banner on first use; this engine is the answer to it.
      backend.firstUse = false;
      attachPool(backend, new BufferPool());
      return backend;
    },
    // Below tfjs's own backends: never picked implicitly, only by setBackend.
    -1,
  );
  for (const k of tf.getKernelsForBackend('cpu')) register(k.kernelName, k.kernelFunc as Kernel);
  for (const [kernelName, make] of Object.entries(OVERRIDES)) {
    const base = tf.getKernel(kernelName, 'cpu');
    if (!base) throw new Error(`tfjs cpu has no kernel ${kernelName}`);
    register(kernelName, make(base.kernelFunc as Fallback));
  }
  for (const [kernelName, fn] of Object.entries(FUSED)) register(kernelName, fn);
  for (const g of [linearGrad, linearFrozenGrad, linearLowRankGrad, layerNormGrad, rmsNormGrad, crossEntropyGrad]) tf.registerGradient(g);
  registered = true;
  return blas;
}

