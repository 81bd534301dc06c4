/**
 * Concat along any axis (KV-cache growth, the gradient of split): for each index of the axes
 * before `axis`, each input contributes one contiguous block, copied with TypedArray.set.
 */
import * as tf from '@tensorflow/tfjs';
import { allocLike, sizeOf, vals, type CpuBackend, type Fallback, type KernelArgs, type TensorInfo } from './cpu-backend.js';

type Numeric = Float32Array | Int32Array | Uint8Array;

export function makeConcat(fallback: Fallback) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = args.backend as CpuBackend;
    const inputs = args.inputs as unknown as TensorInfo[];
    const dtype = inputs[0].dtype;
    if (!(dtype === 'float32' || dtype === 'int32' || dtype === 'bool') || inputs.some((t) => t.dtype !== dtype)) return fallback(args);
    const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, inputs[0].shape)[0];
    const shapes = inputs.map((t) => t.shape);
    tf.backend_util.assertParamsConsistent(shapes, axis);
    const outShape = tf.backend_util.computeOutShape(shapes, axis);
    const total = sizeOf(outShape);
    const first = vals(backend, inputs[0]) as Numeric;
    const o = allocLike(backend, first, total);
    if (total > 0) {
      const outer = sizeOf(outShape.slice(0, axis));
      const outInner = total / outer;
      let offset = 0;
      for (const t of inputs) {
        const inner = sizeOf(t.shape.slice(axis));
        if (inner === 0) continue;
        const v = vals(backend, t) as Numeric;
        for (let r = 0; r < outer; r++) {
          const src = r * inner;
          const dst = r * outInner + offset;
          if (inner >= 64) o.set(v.subarray(src, src + inner), dst);
          else for (let j = 0; j < inner; j++) o[dst + j] = v[src + j];
        }
        offset += inner;
      }
    }
    return backend.makeTensorInfo(outShape, dtype, o);
  };
}
