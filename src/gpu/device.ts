// Adapter and device choice: a real GPU first, then Dawn's OpenGL backend on llvmpipe, then SwiftShader.
import type { FusionOptions } from '../options.js';
import { ArgumentError, GpuError, MissingPackageError } from '../errors.js';
import { applyPlanningLimits, type PlanningLimits } from './limits.js';

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

/** What `init({ verbose: true })` prints: a message, not a result, so stderr (stdout stays parseable). */
export function reportAdapter(info: AdapterInfo): void {
  console.error(`webgrad: using ${info.backend} adapter: ${info.description}`);
}

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
   * The fusions (default true: all on). false keeps every op its own dispatch and every kernel unfused, so the
   * gain can be measured; `{ epilogue: false }` switches single ones (FUSION_PASSES, docs/fusion.md): the graph
   * passes `foldBatchNorm`, `reluMask`, `epilogue` (bias, batch norm, add, ReLU in a producer's store),
   * `elementwise` (chains as one kernel), and `batchNormSingle`, `groupedUpdate` (single-kernel batch norm,
   * grouped optimizer updates), chosen as ops are recorded.
   */
  fusion?: FusionOptions;
  /**
   * Replay (default true): a flush with the same structure as an earlier one (same ops, shapes, attributes and
   * buffers) reuses its planned dispatches, pipelines, bind groups and packed uniforms instead of planning and
   * encoding them anew. false plans every flush from scratch (to measure the gain).
   */
  replay?: boolean;
  /**
   * Check every op's float outputs for NaN and Infinity (default false; also `debug.checkFinite`): the first op
   * in a flush that writes one fails that flush's reads with a NonFiniteError naming it. Costs one small
   * dispatch per op output and a readback per flush: a debugging aid, not for timed runs.
   */
  checkFinite?: boolean;
  /**
   * Lower limits to plan against than the device's (see PlanningLimits): `info().limits` reports them, tensor
   * sizes are checked against them, and matmul, dense and the conv passes split their work to fit them.
   */
  limits?: PlanningLimits;
}

/** The option names `init` knows (anything else is refused, so a typo is not silently ignored). */
export const INIT_OPTIONS: readonly (keyof InitOptions)[] = [
  'backend',
  'verbose',
  'poisonBuffers',
  'fusion',
  'checkFinite',
  'replay',
  'limits',
];

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
  /**
   * The limits the engine plans against: the device's (lowered by InitOptions.limits), plus `subgroupMinSize` and
   * `subgroupMaxSize` where the device has the 'subgroups' feature.
   */
  limits: Record<string, number>;
}

export interface OpenedDevice {
  device: GPUDevice;
  info: AdapterInfo;
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
    // In Node, `webgpu` is an optional peer dependency (browser users never need it): name the install.
    const code = (e as { code?: unknown } | null)?.code;
    if (nodeProcess() && (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')) {
      throw new MissingPackageError('init', name, { cause: e });
    }
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

/** Node's process object where there is one (browsers have none). */
function nodeProcess(): { env: Record<string, string | undefined>; platform: string } | undefined {
  return (globalThis as { process?: { env: Record<string, string | undefined>; platform: string } }).process;
}

/**
 * One Dawn instance per backend for the life of the process. Dropping an instance while objects of its devices
 * are still reachable (a destroyed device, its buffers, its pending events) crashes the process with SIGSEGV or
 * SIGABRT when the garbage collector or process exit frees them in the wrong order; a kept instance neither
 * crashes nor keeps an idle process alive. Reusing it also makes release() + init() cheap.
 */
const instances = new Map<string, DawnInstance>();

/**
 * The Dawn instance for `backend`, created on first use with the flags and environment it needs (also used by
 * the tfjs benchmark, so both engines run on the same adapter).
 */
export async function dawnInstance(backend: 'gpu' | 'llvmpipe' | 'swiftshader'): Promise<DawnInstance> {
  const cached = instances.get(backend);
  if (cached) return cached;
  const mod = await loadDawn();
  const env = nodeProcess()?.env ?? {};
  // webgrad never draws to a window: without this, Mesa's EGL may try Wayland or X11 first, which prints
  // "XDG_RUNTIME_DIR is invalid or not set" (libwayland) or fails eglInitialize on a headless machine. Mesa
  // reads it when EGL is first opened, so it is set before any instance exists.
  env.EGL_PLATFORM ??= 'surfaceless';
  let made: DawnInstance;
  if (backend === 'gpu') {
    // On Linux a real GPU means Vulkan; naming it keeps Dawn from also opening EGL (that is llvmpipe's backend).
    const flags = nodeProcess()?.platform === 'linux' ? ['backend=vulkan'] : [];
    made = { instance: mod.create(flags), featureLevel: 'core' };
  } else if (backend === 'llvmpipe') {
    made = { instance: mod.create(['backend=opengl']), featureLevel: 'compatibility' };
  } else {
    env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
    made = { instance: mod.create(['backend=vulkan']), featureLevel: 'core' };
  }
  instances.set(backend, made);
  return made;
}

/** Where the Vulkan loader looks for driver manifests on Linux (XDG config and data directories). */
function vulkanManifestDirs(env: Record<string, string | undefined>): string[] {
  const home = env.HOME ?? '';
  const config = [
    env.XDG_CONFIG_HOME ?? `${home}/.config`,
    ...(env.XDG_CONFIG_DIRS ?? '/etc/xdg').split(':'),
  ];
  const data = [
    env.XDG_DATA_HOME ?? `${home}/.local/share`,
    ...(env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(':'),
  ];
  return [...config, '/etc', ...data].filter(Boolean).map((d) => `${d}/vulkan/icd.d`);
}

/**
 * Whether auto mode should probe for a real GPU. On Linux that needs a Vulkan driver: a manifest in the loader's
 * directories or one named by the environment. Without one, probing only prints Dawn's "Found no drivers" (or
 * "Couldn't load Vulkan") warnings, so auto mode goes straight to llvmpipe. A hardware driver also needs a device
 * node (`/dev/dri/renderD*` for Mesa's, `/dev/nvidia*` for NVIDIA's): Mesa's manifests installed on a machine
 * without either only print warnings (XDG_RUNTIME_DIR, shaderUniform*ArrayDynamicIndexing) from the probe.
 * Elsewhere (Metal, D3D12) always.
 */
async function mayHaveGpu(): Promise<boolean> {
  const proc = nodeProcess();
  if (proc?.platform !== 'linux') return true;
  const env = proc.env;
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || env.VK_ADD_DRIVER_FILES) return true;
  const { readdir } = await import('node:fs/promises');
  const dri = await readdir('/dev/dri').catch(() => [] as string[]);
  const dev = await readdir('/dev').catch(() => [] as string[]);
  if (!dri.some((n) => n.startsWith('renderD')) && !dev.some((n) => /^nvidia\d+$/.test(n))) return false;
  for (const dir of vulkanManifestDirs(env)) {
    const names = await readdir(dir).catch(() => [] as string[]);
    if (names.some((n) => n.endsWith('.json'))) return true;
  }
  return false;
}

async function requestAdapter(
  backend: Exclude<Backend, 'auto'>,
): Promise<{ adapter: GPUAdapter; featureLevel: 'core' | 'compatibility' } | null> {
  if (backend === 'browser') {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) return null;
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    return adapter ? { adapter, featureLevel: 'core' } : null;
  }
  const { instance, featureLevel } = await dawnInstance(backend);
  if (backend === 'gpu') {
    const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter || SOFTWARE_ADAPTER.test(JSON.stringify(describe(adapter)))) return null;
    return { adapter, featureLevel };
  }
  if (backend === 'llvmpipe') {
    const adapter = await instance.requestAdapter({ featureLevel });
    return adapter ? { adapter, featureLevel } : null;
  }
  const adapter = await instance.requestAdapter();
  if (!adapter || !/swiftshader/i.test(JSON.stringify(describe(adapter)))) return null;
  return { adapter, featureLevel };
}

/** The backend `options` ask for: the option, else the environment variable `WEBGRAD_BACKEND`, else `auto`. */
export function readBackendOption(options: InitOptions): Backend {
  const value = options.backend ?? nodeProcess()?.env.WEBGRAD_BACKEND ?? 'auto';
  if (!BACKENDS.includes(value as Backend)) {
    throw new ArgumentError(`init: backend must be one of ${BACKENDS.join(', ')}, got '${value}'`);
  }
  return value as Backend;
}

/**
 * Where the device has the 'subgroups' feature, records the adapter's subgroup sizes as the limits
 * `subgroupMinSize` and `subgroupMaxSize` (the spec's bounds, 4 and 128, where the adapter does not report them):
 * KernelIO sees limits, not features, so ops offer their subgroup kernels by `hasSubgroups(limits)`.
 */
function addSubgroupSizes(limits: Record<string, number>, adapter: GPUAdapter, device: GPUDevice): void {
  if (!device.features.has('subgroups' as GPUFeatureName)) return;
  limits.subgroupMinSize = adapter.info.subgroupMinSize || 4;
  limits.subgroupMaxSize = adapter.info.subgroupMaxSize || 128;
}

/** Whether the device in use has the 'subgroups' feature, by the limits `addSubgroupSizes` records. */
export function hasSubgroups(limits: Readonly<Record<string, number>>): boolean {
  return (limits.subgroupMaxSize ?? 0) > 0;
}

/** Finds an adapter by the chosen policy and opens a device with the adapter's real limits. */
export async function openDevice(options: InitOptions = {}): Promise<OpenedDevice> {
  const backend = readBackendOption(options);
  const inBrowser = typeof (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== 'undefined';
  let candidates: Exclude<Backend, 'auto'>[] =
    backend === 'auto' ? (inBrowser ? ['browser'] : [...BACKEND_ORDER]) : [backend];
  const tried: string[] = [];
  if (backend === 'auto' && !inBrowser && !(await mayHaveGpu())) {
    candidates = candidates.filter((c) => c !== 'gpu');
    tried.push('gpu (no Vulkan driver manifest or GPU device node)');
  }
  for (const candidate of candidates) {
    let found;
    try {
      found = await requestAdapter(candidate);
    } catch (e) {
      if (e instanceof GpuError || e instanceof MissingPackageError) throw e;
      tried.push(`${candidate} (${String(e)})`);
      continue;
    }
    if (!found) {
      tried.push(`${candidate} (no adapter)`);
      continue;
    }
    const { adapter, featureLevel } = found;
    const limits: Record<string, number> = {};
    for (const key in adapter.limits) {
      const v = (adapter.limits as unknown as Record<string, unknown>)[key];
      if (typeof v === 'number') limits[key] = v;
    }
    const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: limits });
    } catch (e) {
      throw new GpuError(`init: the ${candidate} adapter refused to open a device (${String(e)})`, {
        cause: e,
      });
    }
    let planned: Record<string, number>;
    try {
      planned = applyPlanningLimits(limits, options.limits);
    } catch (e) {
      device.destroy();
      throw e;
    }
    addSubgroupSizes(planned, adapter, device);
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
      limits: planned,
    };
    if (options.verbose) reportAdapter(info);
    return { device, info };
  }
  throw new GpuError(`init: no WebGPU adapter found for backend '${backend}'; tried ${tried.join('; ')}`);
}
