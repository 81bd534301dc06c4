/**
 * What the fast kernels need from tfjs's CPU backend (MathBackendCPU): its data storage (plain
 * typed arrays per tensor) and a way to register new outputs. The fast engine is a second
 * MathBackendCPU instance, so every tfjs cpu kernel we do not override still runs on it.
 */
import type * as tf from '@tensorflow/tfjs';

export type TensorInfo = tf.TensorInfo;

export interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: tf.DataId): { values: tf.BackendValues; dtype: tf.DataType } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.BackendValues): TensorInfo;
  disposeIntermediateTensorInfo(t: TensorInfo): void;
}

export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}

/** The stored values of a float32 tensor (the backend's own array: read, never write). */
export function f32(backend: CpuBackend, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

/** The stored values of any numeric tensor. */
export function vals(backend: CpuBackend, t: TensorInfo): tf.TypedArray {
  return backend.data.get(t.dataId).values as tf.TypedArray;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/** A new float32 output owning `values`. */
export function out(backend: CpuBackend, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

/** The tfjs cpu kernel of the same name: the fallback for cases a fast kernel does not cover. */
export type Fallback = (args: KernelArgs) => TensorInfo | TensorInfo[];

interface Pooled {
  pool?: { alloc(n: number): Float32Array; zeros(n: number): Float32Array };
}

/** An output buffer of length n, contents undefined: the kernel must write every element. */
export function alloc(backend: CpuBackend, n: number): Float32Array {
  const pool = (backend as unknown as Pooled).pool;
  return pool ? pool.alloc(n) : new Float32Array(n);
}

/** A zero-filled output buffer of length n. */
export function zeros(backend: CpuBackend, n: number): Float32Array {
  const pool = (backend as unknown as Pooled).pool;
  return pool ? pool.zeros(n) : new Float32Array(n);
}

type NumericArray = Float32Array | Int32Array | Uint8Array;

/** An output buffer of length n of the same type as `like` (float32 ones come from the pool). */
export function allocLike<T extends NumericArray>(backend: CpuBackend, like: T, n: number): T {
  if (like instanceof Float32Array) return alloc(backend, n) as T;
  return new (like.constructor as { new (n: number): T })(n);
}
