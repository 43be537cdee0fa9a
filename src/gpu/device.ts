// Adapter and device choice: a real GPU first, then Dawn's OpenGL backend on llvmpipe, then SwiftShader.
import { ArgumentError, GpuError } from '../errors.js';

/** Which WebGPU implementation to run on. `auto` tries them in the order listed in `BACKEND_ORDER`. */
export type Backend = 'auto' | 'browser' | 'gpu' | 'llvmpipe' | 'swiftshader';
const BACKENDS: readonly Backend[] = ['auto', 'browser', 'gpu', 'llvmpipe', 'swiftshader'];
/** The order `auto` tries in Node. */
export const BACKEND_ORDER: readonly Exclude<Backend, 'auto' | 'browser'>[] = [
  'gpu',
  'llvmpipe',
  'swiftshader',
];
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic/i;

export interface InitOptions {
  /** Force an implementation; defaults to the environment variable `WEBGRAD_BACKEND`, then `auto`. */
  backend?: Backend;
  /** Print which adapter was chosen (default: false). */
  verbose?: boolean;
  /**
   * Fill every pooled buffer with NaN before handing it out (default false; the test suite turns it on):
   * exposes kernels that read memory they did not write or leave outputs unwritten.
   */
  poisonBuffers?: boolean;
  /**
   * Run the scheduler's fusion pass (default true): a ReLU after batch norm runs inside the batch-norm kernel.
   * false keeps every op its own dispatch, so the pass's gain can be measured.
   */
  fusion?: boolean;
}

/** What `info()` reports about the adapter in use. */
export interface AdapterInfo {
  backend: Exclude<Backend, 'auto'>;
  description: string;
  vendor: string;
  architecture: string;
  featureLevel: 'core' | 'compatibility';
  /** A CPU implementation (llvmpipe, SwiftShader, lavapipe), found by backend or adapter name (browsers too). */
  software: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface OpenedDevice {
  device: GPUDevice;
  info: AdapterInfo;
  /** The WebGPU instance: it must stay referenced while the device lives (Dawn frees its threads with it). */
  instance: GPU;
}

const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups' as GPUFeatureName];

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let dawn: DawnModule | null = null;

/** Loads Dawn's Node bindings once; the module name is a variable so bundlers leave it alone. */
async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  const name = 'webgpu';
  try {
    dawn = (await import(/* @vite-ignore */ name)) as DawnModule;
  } catch (e) {
    throw new GpuError(
      `init: no navigator.gpu and the npm package 'webgpu' could not be loaded (${String(e)})`,
    );
  }
  // Dawn's classes (GPUBufferUsage, ...) must be global before any WebGPU code runs.
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  return dawn;
}

function describe(adapter: GPUAdapter): { description: string; vendor: string; architecture: string } {
  const i = adapter.info;
  return {
    description: i.description || i.device || '(no description)',
    vendor: i.vendor || '',
    architecture: i.architecture || '',
  };
}

/** A Dawn instance set up for one Node backend, and the feature level its adapter is requested at. */
export interface DawnInstance {
  instance: GPU;
  featureLevel: 'core' | 'compatibility';
}

/**
 * Creates a Dawn instance with the flags and environment that `backend` needs (also used by the tfjs
 * benchmark, so both engines run on the same adapter). Keep the instance referenced while its devices live.
 */
export async function dawnInstance(backend: 'gpu' | 'llvmpipe' | 'swiftshader'): Promise<DawnInstance> {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const mod = await loadDawn();
  if (backend === 'gpu') return { instance: mod.create([]), featureLevel: 'core' };
  if (backend === 'llvmpipe') {
    // Mesa picks its EGL platform from the environment when Dawn first opens EGL.
    env.EGL_PLATFORM ??= 'surfaceless';
    return { instance: mod.create(['backend=opengl']), featureLevel: 'compatibility' };
  }
  env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
  return { instance: mod.create(['backend=vulkan']), featureLevel: 'core' };
}

async function requestAdapter(
  backend: Exclude<Backend, 'auto'>,
): Promise<{ adapter: GPUAdapter; featureLevel: 'core' | 'compatibility'; instance: GPU } | null> {
  if (backend === 'browser') {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) return null;
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    return adapter ? { adapter, featureLevel: 'core', instance: gpu } : null;
  }
  const { instance, featureLevel } = await dawnInstance(backend);
  if (backend === 'gpu') {
    const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter || SOFTWARE_ADAPTER.test(JSON.stringify(describe(adapter)))) return null;
    return { adapter, featureLevel, instance };
  }
  if (backend === 'llvmpipe') {
    const adapter = await instance.requestAdapter({ featureLevel });
    return adapter ? { adapter, featureLevel, instance } : null;
  }
  const adapter = await instance.requestAdapter();
  if (!adapter || !/swiftshader/i.test(JSON.stringify(describe(adapter)))) return null;
  return { adapter, featureLevel, instance };
}

function readBackendOption(options: InitOptions): Backend {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
  const value = options.backend ?? env?.WEBGRAD_BACKEND ?? 'auto';
  if (!BACKENDS.includes(value as Backend)) {
    throw new ArgumentError(`init: backend must be one of ${BACKENDS.join(', ')}, got '${value}'`);
  }
  return value as Backend;
}

/** Finds an adapter by the chosen policy and opens a device with the adapter's real limits. */
export async function openDevice(options: InitOptions = {}): Promise<OpenedDevice> {
  const backend = readBackendOption(options);
  const inBrowser = typeof (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== 'undefined';
  const candidates: Exclude<Backend, 'auto'>[] =
    backend === 'auto' ? (inBrowser ? ['browser'] : [...BACKEND_ORDER]) : [backend];
  const tried: string[] = [];
  for (const candidate of candidates) {
    let found;
    try {
      found = await requestAdapter(candidate);
    } catch (e) {
      if (e instanceof GpuError) throw e;
      tried.push(`${candidate} (${String(e)})`);
      continue;
    }
    if (!found) {
      tried.push(`${candidate} (no adapter)`);
      continue;
    }
    const { adapter, featureLevel, instance } = found;
    const limits: Record<string, number> = {};
    for (const key in adapter.limits) {
      const v = (adapter.limits as unknown as Record<string, unknown>)[key];
      if (typeof v === 'number') limits[key] = v;
    }
    const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: limits });
    const described = describe(adapter);
    const info: AdapterInfo = {
      backend: candidate,
      ...described,
      featureLevel,
      software:
        candidate === 'llvmpipe' ||
        candidate === 'swiftshader' ||
        SOFTWARE_ADAPTER.test(JSON.stringify(described)),
      features: [...device.features].sort(),
      limits,
    };
    if (options.verbose) console.log(`webgrad: using ${candidate} adapter: ${info.description}`);
    return { device, info, instance };
  }
  throw new GpuError(`init: no WebGPU adapter found for backend '${backend}'; tried ${tried.join('; ')}`);
}
