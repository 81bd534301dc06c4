/**
 * Fused rotary position embedding (rotate-half, Hugging Face's apply_rotary_pos_emb) on the heads
 * of a projection x [N, H·hd], in place of the split / negate / concat / two multiplies / add of
 * the composite (and their gradients). cos and sin [N, hd] are per row, so per-row positions
 * (left-padded batches) cost nothing extra. With m = hd / 2, per head:
 *
 *   y_i = x_i cos_i − x_{i+m} sin_i,   y_{i+m} = x_{i+m} cos_{i+m} + x_i sin_{i+m}   (i < m)
 *
 * The backward is the transposed rotation:
 *
 *   dx_i = dy_i cos_i + dy_{i+m} sin_{i+m},   dx_{i+m} = dy_{i+m} cos_{i+m} − dy_i sin_i
 */
import { alloc, f32, out, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';

function check(x: TensorInfo, cos: TensorInfo, heads: number): [number, number, number] {
  const [N, W] = x.shape;
  const hd = W / heads;
  if (x.shape.length !== 2 || !Number.isInteger(hd) || hd % 2 !== 0 || cos.shape[0] !== N || cos.shape[1] !== hd) {
    throw new Error(`rotary: x [${x.shape}] must be [N, ${heads}·hd] (hd even) with cos and sin [N, hd], got [${cos.shape}]`);
  }
  return [N, heads, hd];
}

/** sign +1: the forward rotation; −1: its transpose (the gradient). */
function rotate(x: Float32Array, c: Float32Array, s: Float32Array, y: Float32Array, N: number, H: number, hd: number, sign: number): void {
  const m = hd / 2;
  const W = H * hd;
  for (let n = 0; n < N; n++) {
    const cs = n * hd;
    for (let h = 0; h < H; h++) {
      const at = n * W + h * hd;
      for (let i = 0; i < m; i++) {
        const a = x[at + i];
        const b = x[at + i + m];
        if (sign > 0) {
          y[at + i] = a * c[cs + i] - b * s[cs + i];
          y[at + i + m] = b * c[cs + i + m] + a * s[cs + i + m];
        } else {
          y[at + i] = a * c[cs + i] + b * s[cs + i + m];
          y[at + i + m] = b * c[cs + i + m] - a * s[cs + i];
        }
      }
    }
  }
}

/** inputs x, cos, sin, attrs {heads} → y [N, H·hd]. */
export function rotaryKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { x, cos, sin } = args.inputs as { x: TensorInfo; cos: TensorInfo; sin: TensorInfo };
  const [N, H, hd] = check(x, cos, (args.attrs as { heads: number }).heads);
  const y = alloc(backend, N * H * hd);
  rotate(f32(backend, x), f32(backend, cos), f32(backend, sin), y, N, H, hd, 1);
  return out(backend, x.shape.slice(), y);
}

/** inputs dy, cos, sin, attrs {heads} → dx. */
export function rotaryGradKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { dy, cos, sin } = args.inputs as { dy: TensorInfo; cos: TensorInfo; sin: TensorInfo };
  const [N, H, hd] = check(dy, cos, (args.attrs as { heads: number }).heads);
  const dx = alloc(backend, N * H * hd);
  rotate(f32(backend, dy), f32(backend, cos), f32(backend, sin), dx, N, H, hd, -1);
  return out(backend, dy.shape.slice(), dx);
}
