/**
 * ColoraLinear: y = residual + x W + b (or x Wᵀ + b with transposeW, the tied LM head) in one
 * pass: the bias (and residual) are written into the output and the GEMM accumulates onto them
 * (beta = 1), so no separate broadcast add. ColoraLinearLowRank adds a LoRA term
 * scale · (x Aᵀ) Bᵀ as a second GEMM into the same output, so the adapter's delta is never a
 * tensor of its own and is never added.
 *
 * Gradients are registered per input and lazy: a frozen W or b costs nothing in backprop (tfjs
 * only asks for gradients on the path to the trained variables). The low-rank input gradient
 * dy Wᵀ + scale · (dy B) A is one kernel writing one output.
 */
import * as tf from '@tensorflow/tfjs';
import { getBlas } from '../blas.js';
import { alloc, f32, out, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';
import { LINEAR, LINEAR_FROZEN, LINEAR_LOW_RANK, LINEAR_LOW_RANK_DX } from './names.js';

let ones = new Float32Array(0);
function onesOf(n: number): Float32Array {
  if (ones.length < n) ones = new Float32Array(n).fill(1);
  return ones;
}

/**
 * The output rows before the GEMMs accumulate: residual + bias, residual, bias, or nothing
 * (returns the GEMM's beta). residual + bias is a copy and a rank-1 update (ones · biasᵀ).
 */
function initOutput(y: Float32Array, R: number, OUT: number, bias: Float32Array | undefined, residual: Float32Array | undefined): number {
  if (residual) {
    y.set(residual.subarray(0, R * OUT));
    if (bias) getBlas().sger(R, OUT, 1, onesOf(R), bias, y);
  } else if (bias) for (let r = 0; r < R; r++) y.set(bias, r * OUT);
  else return 0;
  return 1;
}

interface LinearInputs {
  x: TensorInfo;
  w: TensorInfo;
  b?: TensorInfo;
  residual?: TensorInfo;
}

function checkLinear(name: string, { x, w, b, residual }: LinearInputs, transposeW: boolean): [number, number, number] {
  if (x.shape.length !== 2 || w.shape.length !== 2) throw new Error(`${name}: x and w must be rank 2, got [${x.shape}] and [${w.shape}]`);
  const [R, IN] = x.shape;
  const wIn = transposeW ? w.shape[1] : w.shape[0];
  const OUT = transposeW ? w.shape[0] : w.shape[1];
  if (wIn !== IN) throw new Error(`${name}: x [${x.shape}] does not match weight [${w.shape}] (transposeW=${transposeW})`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== OUT)) throw new Error(`${name}: bias [${b.shape}] does not match ${OUT} outputs`);
  if (residual && (residual.shape.length !== 2 || residual.shape[0] !== R || residual.shape[1] !== OUT)) {
    throw new Error(`${name}: residual [${residual.shape}] does not match the output [${R}, ${OUT}]`);
  }
  return [R, IN, OUT];
}

export function linearKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const inputs = args.inputs as unknown as LinearInputs;
  const transposeW = !!(args.attrs as { transposeW?: boolean }).transposeW;
  const [R, IN, OUT] = checkLinear(LINEAR, inputs, transposeW);
  const { x, w, b, residual } = inputs;
  const y = alloc(backend, R * OUT);
  const beta = initOutput(y, R, OUT, b && f32(backend, b), residual && f32(backend, residual));
  getBlas().sgemm(false, transposeW, R, OUT, IN, 1, f32(backend, x), 0, IN, f32(backend, w), 0, transposeW ? IN : OUT, beta, y, 0, OUT);
  return out(backend, [R, OUT], y);
}

/**
 * inputs x [R, in], w [in, out], a [r, in], bm [out, r] (b, residual optional), attrs {scale} →
 * [y [R, out], h = x aᵀ [R, r]] (h is saved for the gradient of bm).
 */
export function linearLowRankKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const inputs = args.inputs as unknown as LinearInputs & { a: TensorInfo; bm: TensorInfo };
  const scale = (args.attrs as { scale: number }).scale;
  const [R, IN, OUT] = checkLinear(LINEAR_LOW_RANK, inputs, false);
  const { x, w, b, residual, a, bm } = inputs;
  const r = a.shape[0];
  if (a.shape.length !== 2 || a.shape[1] !== IN || bm.shape.length !== 2 || bm.shape[0] !== OUT || bm.shape[1] !== r) {
    throw new Error(`${LINEAR_LOW_RANK}: A [${a.shape}] and B [${bm.shape}] must be [r, ${IN}] and [${OUT}, r]`);
  }
  const { sgemm } = getBlas();
  const xv = f32(backend, x);
  const y = alloc(backend, R * OUT);
  const h = new Float32Array(R * r);
  const beta = initOutput(y, R, OUT, b && f32(backend, b), residual && f32(backend, residual));
  sgemm(false, false, R, OUT, IN, 1, xv, 0, IN, f32(backend, w), 0, OUT, beta, y, 0, OUT);
  sgemm(false, true, R, r, IN, 1, xv, 0, IN, f32(backend, a), 0, IN, 0, h, 0, r);
  sgemm(false, true, R, OUT, r, scale, h, 0, r, f32(backend, bm), 0, r, 1, y, 0, OUT);
  return [out(backend, [R, OUT], y), out(backend, [R, r], h)];
}

/** inputs dy [R, out], w, a, bm, attrs {scale} → dx = dy wᵀ + scale · (dy bm) a. */
export function linearLowRankDxKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { dy, w, a, bm } = args.inputs as Record<string, TensorInfo>;
  const scale = (args.attrs as { scale: number }).scale;
  const [R, OUT] = dy.shape;
  const [IN] = w.shape;
  const r = a.shape[0];
  const { sgemm } = getBlas();
  const dyv = f32(backend, dy);
  const dx = alloc(backend, R * IN);
  const g = new Float32Array(R * r);
  sgemm(false, true, R, IN, OUT, 1, dyv, 0, OUT, f32(backend, w), 0, OUT, 0, dx, 0, IN);
  sgemm(false, false, R, r, OUT, 1, dyv, 0, OUT, f32(backend, bm), 0, r, 0, g, 0, r);
  sgemm(false, false, R, IN, r, scale, g, 0, r, f32(backend, a), 0, IN, 1, dx, 0, IN);
  return out(backend, [R, IN], dx);
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
      residual: () => tf.clone(g),
    };
  },
};

/**
 * The same product for a weight that gets no gradient (a plain tensor, not a trainable
 * tf.Variable): backprop then keeps only W, not x, so the layer's input can be freed after the
 * forward pass (the input of the MLP's output projection alone is 4·N·D floats per block).
 */
export const linearFrozenGrad: tf.GradConfig = {
  kernelName: LINEAR_FROZEN,
  inputsToSave: ['w'],
  gradFunc: (dy, saved, attrs) => {
    const g = dy as tf.Tensor2D;
    const [w] = saved as [tf.Tensor2D];
    const transposeW = !!(attrs as { transposeW?: boolean }).transposeW;
    return {
      x: () => tf.matMul(g, w, false, !transposeW),
      w: () => {
        throw new Error('ops.linear: this weight was passed as a plain tensor, which colora treats as frozen (no gradient); pass a trainable tf.Variable to train it');
      },
      b: () => tf.sum(g, 0),
      residual: () => tf.clone(g),
    };
  },
};

export const linearLowRankGrad: tf.GradConfig = {
  kernelName: LINEAR_LOW_RANK,
  inputsToSave: ['x', 'w', 'a', 'bm'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved, attrs) => {
    const g = (dys as tf.Tensor[])[0] as tf.Tensor2D;
    const [x, w, a, bm, h] = saved as tf.Tensor2D[];
    const scale = (attrs as { scale: number }).scale;
    return {
      x: () => tf.engine().runKernel(LINEAR_LOW_RANK_DX, { dy: g, w, a, bm }, { scale }) as tf.Tensor,
      w: () => tf.matMul(x, g, true, false),
      a: () => tf.mul(tf.matMul(tf.matMul(g, bm), x, true, false), scale),
      bm: () => tf.mul(tf.matMul(g, h, true, false), scale),
      b: () => tf.sum(g, 0),
      residual: () => tf.clone(g),
    };
  },
};
