/**
 * `--backend webgpu`: tfjs's WebGPU backend (@tensorflow/tfjs-backend-webgpu) on Node.js through
 * the `webgpu` package (Google's Dawn as a Node addon, dawn.node; on Linux it reaches the GPU
 * through Vulkan: libvulkan.so.1 and the GPU vendor's Vulkan driver, e.g. NVIDIA's ICD).
 *
 * Starting it:
 *   1. a child process asks Dawn for an adapter first: Dawn writes its diagnostics (no Vulkan
 *      driver, missing device features, ...) straight to the process's stderr, so the probe keeps
 *      them out of ours and turns a failure into one line; a crash in a driver stays there too;
 *   2. this process installs Dawn as `navigator.gpu` (and its WebGPU constants as globals), loads
 *      the tfjs backend (its kernels), and registers the backend 'webgpu' with our own factory:
 *      the same device request as tfjs's, plus the adapter options below and a readSync that fails
 *      with a clear message (tfjs reads synchronously through OffscreenCanvas, which Node lacks).
 *
 * Environment:
 *   COLORA_WEBGPU_DAWN    Dawn options for create(), separated by spaces or semicolons, e.g.
 *                         `backend=vulkan` or `adapter=NVIDIA H100 80GB HBM3`
 *   COLORA_WEBGPU_COMPAT  1: accept a compatibility-mode adapter when there is no core one (Mesa's
 *                         llvmpipe through `backend=opengl`: only for testing on a CPU machine)
 *   COLORA_WEBGPU_FLAGS   tfjs webgpu flags, NAME=value separated by commas, e.g.
 *                         `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64,WEBGPU_CPU_FORWARD=false`
 *
 * `auto` accepts a hardware adapter only: a software one (llvmpipe, lavapipe, SwiftShader) is far
 * slower than the cpu engine.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../util/errors.js';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn's fallback/compat adapter on a CPU implementation (llvmpipe, lavapipe, SwiftShader). */
  software: boolean;
  featureLevel: 'core' | 'compatibility';
}

export interface ProbeResult {
  adapter?: AdapterInfo;
  /** Why there is none: one line. */
  reason?: string;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|softpipe/i;

/** Dawn options from COLORA_WEBGPU_DAWN. */
export function dawnOptions(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.COLORA_WEBGPU_DAWN ?? '').split(/[;\s]+/).filter((s) => s.length > 0);
}

/** tfjs flags from COLORA_WEBGPU_FLAGS ("A=1,B=false"): numbers and booleans as such. */
export function tfjsFlags(env: NodeJS.ProcessEnv = process.env): Record<string, number | boolean | string> {
  const flags: Record<string, number | boolean | string> = {};
  for (const part of (env.COLORA_WEBGPU_FLAGS ?? '').split(',')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(part);
    if (!m) {
      if (part.trim()) throw new UsageError(`COLORA_WEBGPU_FLAGS: expected NAME=value, got '${part.trim()}'`);
      continue;
    }
    const v = m[2];
    flags[m[1]] = v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return flags;
}

function compatAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.COLORA_WEBGPU_COMPAT === '1';
}

/** Where the `webgpu` package is, or undefined (an optional dependency: it may be absent). */
function webgpuEntry(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return undefined;
  }
}

/**
 * The adapter request both the probe and the backend make (kept as source text so the probe
 * runs exactly it): a high-performance core adapter, else (when allowed) a compatibility one.
 */
const REQUEST_ADAPTER = `async function requestAdapter(gpu, compat) {
  let a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  let level = 'core';
  if (!a && compat) { a = await gpu.requestAdapter({ powerPreference: 'high-performance', featureLevel: 'compatibility' }); level = 'compatibility'; }
  if (!a) return undefined;
  const i = a.info || {};
  const text = [i.vendor, i.architecture, i.device, i.description].join(' ');
  const software = !!a.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software|softpipe/i.test(text) || (i.vendor === '' && i.device === '' && /null/i.test(text));
  return { adapter: a, info: { vendor: i.vendor || '', architecture: i.architecture || '', device: i.device || '', description: i.description || '', software, featureLevel: level } };
}`;

/** Summarise Dawn's stderr into one line. */
export function reasonFromDawn(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !/^at |^- While/.test(l) && !/XDG_RUNTIME_DIR/.test(l));
  if (stderr.includes('Found no drivers') || stderr.includes('VK_ERROR_INCOMPATIBLE_DRIVER')) return 'Dawn found no Vulkan driver (install the GPU vendor\'s Vulkan ICD, e.g. NVIDIA\'s, and libvulkan1)';
  if (/libvulkan|Couldn't load Vulkan|Couldn't open/i.test(stderr)) return 'Dawn could not load the Vulkan loader libvulkan.so.1 (apt-get install libvulkan1)';
  const first = lines.find((l) => /^Warning:|^Error:/.test(l));
  if (first) return `Dawn found no usable adapter: ${first.replace(/^(Warning|Error):\s*/, '').replace(/\.$/, '')}`;
  return 'Dawn found no WebGPU adapter (no GPU with a Vulkan driver)';
}

/** Ask Dawn for an adapter in a child process (its native stderr stays there). */
export function probeAdapter(env: NodeJS.ProcessEnv = process.env): ProbeResult {
  const entry = webgpuEntry();
  if (!entry) return { reason: 'the optional dependency `webgpu` (Dawn for Node.js) is not installed' };
  const script = `${REQUEST_ADAPTER}
const { create, globals } = await import(${JSON.stringify(pathToFileURL(entry).href)});
Object.assign(globalThis, globals);
const gpu = create(${JSON.stringify(dawnOptions(env))});
const r = await requestAdapter(gpu, ${compatAllowed(env)});
process.stdout.write(JSON.stringify(r ? r.info : null) + '\\n');
process.exit(0);`;
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { XDG_RUNTIME_DIR: '/tmp', ...env },
  });
  if (p.error) return { reason: `the adapter probe failed (${p.error.message.split('\n')[0]})` };
  const out = (p.stdout ?? '').trim().split('\n').pop() ?? '';
  if (p.status !== 0 || !out) {
    const err = (p.stderr ?? '').split('\n').find((l) => /Error|error/.test(l));
    return { reason: `the adapter probe exited with ${p.status ?? p.signal}${err ? ` (${err.trim().slice(0, 200)})` : ''}` };
  }
  const info = JSON.parse(out) as AdapterInfo | null;
  if (!info) return { reason: reasonFromDawn(p.stderr ?? '') };
  return { adapter: info };
}

/** A one-line description of an adapter. */
export function describeAdapter(a: AdapterInfo): string {
  const parts = [a.vendor, a.architecture, a.device, a.description].filter((s) => s.length > 0);
  return `${parts.join(' / ') || 'unnamed adapter'}${a.featureLevel === 'compatibility' ? ' (compatibility mode)' : ''}${a.software ? ' (software)' : ''}`;
}

interface GpuLike {
  requestAdapter(o?: object): Promise<unknown>;
}

type RequestAdapter = (gpu: GpuLike, compat: boolean) => Promise<{ adapter: GpuAdapterLike; info: AdapterInfo } | undefined>;

interface GpuAdapterLike {
  features: Set<string>;
  limits: Record<string, number>;
  info?: unknown;
  requestDevice(d: object): Promise<GpuDeviceLike>;
}

interface GpuDeviceLike {
  destroy(): void;
  lost?: Promise<unknown>;
}

interface TensorDataLike {
  values?: unknown;
  dtype: string;
}

interface WebGPUBackendLike extends tf.KernelBackend {
  tensorMap: { get(id: object): TensorDataLike };
}

let started: { info: AdapterInfo } | undefined;
/** Why the backend factory failed, for the one-line error. */
let factoryError: string | undefined;
let gpuHandle: { gpu: GpuLike; device?: GpuDeviceLike } | undefined;

/** The adapter of the running webgpu backend, if it started. */
export function webgpuAdapter(): AdapterInfo | undefined {
  return started?.info;
}

/**
 * Make 'webgpu' tfjs's active backend. `auto`: refuse a software adapter. Throws UsageError with
 * one line (`--backend webgpu: ...`) when it cannot start.
 */
export async function startWebGPU(forAuto: boolean): Promise<{ note?: string; adapter: AdapterInfo }> {
  if (!started) {
    const probe = probeAdapter();
    if (!probe.adapter) throw new UsageError(`--backend webgpu: ${probe.reason}; use --backend cpu (GPU setup: docs/gpu.md)`);
    if (forAuto && probe.adapter.software) throw new UsageError(`--backend webgpu: only a software adapter (${describeAdapter(probe.adapter)})`);
    await install(probe.adapter);
  } else if (forAuto && started.info.software) {
    throw new UsageError(`--backend webgpu: only a software adapter (${describeAdapter(started.info)})`);
  }
  let ok = false;
  factoryError = undefined;
  // tfjs reports a failing factory through console.warn (with a stack); we say it in one line.
  const warn = console.warn;
  console.warn = () => {};
  try {
    ok = await tf.setBackend('webgpu');
  } catch (e) {
    factoryError ??= (e as Error).message;
  } finally {
    console.warn = warn;
  }
  if (!ok) throw new UsageError(`--backend webgpu: the tfjs webgpu backend failed to initialise${factoryError ? ` (${factoryError.split('\n')[0]})` : ''}`);
  const info = started!.info;
  return { adapter: info, ...(info.software ? { note: `webgpu runs on a software adapter (${describeAdapter(info)}): for testing only, far slower than --backend cpu` } : {}) };
}

async function install(probed: AdapterInfo): Promise<void> {
  const entry = webgpuEntry()!;
  const dawn = (await import(pathToFileURL(entry).href)) as { create(o: string[]): GpuLike; globals: Record<string, unknown> };
  const g = globalThis as Record<string, unknown>;
  // WebGPU's constants (GPUBufferUsage, GPUMapMode, ...), which tfjs's backend reads as globals.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
  const gpu = dawn.create(dawnOptions());
  gpuHandle = { gpu };
  const nav = (g.navigator ?? {}) as Record<string, unknown>;
  Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });

  const webgpu = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as {
    WebGPUBackend: new (device: unknown, adapterInfo?: unknown) => WebGPUBackendLike;
  };
  for (const [k, v] of Object.entries(tfjsFlags())) tf.env().set(k, v);
  // The package registered its own factory (plain powerPreference request, priority 3) when it
  // saw navigator.gpu; ours also takes a compatibility adapter and fixes readSync for Node.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  const requestAdapter = new Function(`return (${REQUEST_ADAPTER})`)() as RequestAdapter;
  tf.registerBackend(
    'webgpu',
    async () => {
      try {
        return await createBackend();
      } catch (e) {
        factoryError = (e as Error).message;
        throw e;
      }
    },
    0, // never chosen by tfjs on its own: colora sets backends explicitly
  );
  started = { info: probed };
  // Dawn keeps the process alive while navigator.gpu holds it; let go when the work is done.
  process.once('beforeExit', releaseWebGPU);

  async function createBackend(): Promise<WebGPUBackendLike> {
    const r = await requestAdapter(gpu, compatAllowed());
    if (!r) throw new Error('the WebGPU adapter disappeared after the probe');
    const { adapter } = r;
    const L = adapter.limits;
    const requiredLimits: Record<string, number> = {};
    for (const k of [
      'maxComputeWorkgroupStorageSize',
      'maxComputeWorkgroupsPerDimension',
      'maxStorageBufferBindingSize',
      'maxBufferSize',
      'maxComputeWorkgroupSizeX',
      'maxComputeWorkgroupSizeY',
      'maxComputeWorkgroupSizeZ',
      'maxComputeInvocationsPerWorkgroup',
      'maxStorageBuffersPerShaderStage',
    ]) {
      if (typeof L[k] === 'number') requiredLimits[k] = L[k];
    }
    const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
    gpuHandle = { gpu, device };
    const backend = new webgpu.WebGPUBackend(device, adapter.info);
    patchReadSync(backend);
    return backend;
  }
}

/**
 * tfjs's webgpu readSync copies through an OffscreenCanvas, which Node.js does not have, and
 * Dawn for Node has no synchronous map: a synchronous read of a GPU tensor fails with a message
 * that says what to do instead. Values already on the host (uploaded or read once) still read.
 */
function patchReadSync(backend: WebGPUBackendLike): void {
  const original = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    const d = backend.tensorMap.get(dataId);
    if (d.values != null || d.dtype === 'string') return original(dataId);
    throw new Error('webgpu backend: dataSync()/arraySync() of a GPU tensor is not possible in Node.js (no synchronous GPU read); read it with await data()');
  };
}

/** Dispose the webgpu backend and let go of Dawn (so the process can exit). */
export function releaseWebGPU(): void {
  if (!gpuHandle) return;
  // Disposes the backend's buffers and, if it is the active backend, unsets it.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  gpuHandle.device?.destroy();
  const nav = (globalThis as Record<string, unknown>).navigator as Record<string, unknown> | undefined;
  if (nav && nav.gpu === gpuHandle.gpu) delete nav.gpu;
  gpuHandle = undefined;
  started = undefined;
}
