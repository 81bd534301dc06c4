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
