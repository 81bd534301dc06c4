/**
 * ColoraLinear: y = x W + b (or x Wᵀ + b with transposeW, the tied LM head) in one pass: the
 * bias is written into the output rows and the GEMM accumulates onto it (beta = 1), so no
 * separate broadcast add. The gradient is registered per input and lazy: a frozen W or b costs
 * nothing in backprop (tfjs only asks for gradients on the path to the trained variables).
 */
import * as tf from '@tensorflow/tfjs';
import { getBlas } from '../blas.js';
import { alloc, f32, out, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';
import { LINEAR } from './names.js';

export function linearKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { x, w, b } = args.inputs as { x: TensorInfo; w: TensorInfo; b?: TensorInfo };
  const transposeW = !!(args.attrs as { transposeW?: boolean }).transposeW;
  if (x.shape.length !== 2 || w.shape.length !== 2) throw new Error(`${LINEAR}: x and w must be rank 2, got [${x.shape}] and [${w.shape}]`);
  const [R, IN] = x.shape;
  const wIn = transposeW ? w.shape[1] : w.shape[0];
  const OUT = transposeW ? w.shape[0] : w.shape[1];
  if (wIn !== IN) throw new Error(`${LINEAR}: x [${x.shape}] does not match weight [${w.shape}] (transposeW=${transposeW})`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== OUT)) throw new Error(`${LINEAR}: bias [${b.shape}] does not match ${OUT} outputs`);
  const y = alloc(backend, R * OUT);
  let beta = 0;
  if (b) {
    const bv = f32(backend, b);
    for (let r = 0; r < R; r++) y.set(bv, r * OUT);
    beta = 1;
  }
  getBlas().sgemm(false, transposeW, R, OUT, IN, 1, f32(backend, x), 0, IN, f32(backend, w), 0, transposeW ? IN : OUT, beta, y, 0, OUT);
  return out(backend, [R, OUT], y);
}

export const linearGrad: tf.GradConfig = {
  kernelName: LINEAR,
  inputsToSave: ['x', 'w'],
  gradFunc: (dy, saved, attrs) => {
    const g = dy as tf.Tensor2D;
    const [x, w] = saved as [tf.Tensor2D, tf.Tensor2D];
    const transposeW = !!(attrs as { transposeW?: boolean }).transposeW;
    return {
      x: () => tf.matMul(g, w, false, !transposeW),
      w: () => (transposeW ? tf.matMul(g, x, true, false) : tf.matMul(x, g, true, false)),
      b: () => tf.sum(g, 0),
    };
  },
};
