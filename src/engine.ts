// Engine lifetime and introspection: init (shared by concurrent callers), release, info, stats.
import { ArgumentError, DisposedError, GpuError } from './errors.js';
import {
  INIT_OPTIONS,
  openDevice,
  readBackendOption,
  type AdapterInfo,
  type InitOptions,
} from './gpu/device.js';
import { checkPlanningLimits } from './gpu/limits.js';
import { GpuRuntime } from './gpu/runtime.js';
import { debug } from './graph/checks.js';
import { cancelReads } from './graph/scheduler.js';
import { state } from './graph/state.js';
import { checkOptionKeys, resolveFusion } from './options.js';

export type { AdapterInfo, InitOptions };

/** Counters since init (live/pooled figures are current values). */
export interface Stats {
  dispatches: number;
  submits: number;
  readbacks: number;
  /** Buffers held by tensors and pending work. */
  liveBuffers: number;
  liveBytes: number;
  /** Bytes of idle buffers kept for reuse. */
  pooledBytes: number;
  /**
   * Host milliseconds since init spent recording ops, planning flushes, encoding their commands, and in
   * `queue.submit` (on a CPU adapter such as llvmpipe's OpenGL backend, the submit may run kernels itself).
   */
  cpu: { recordMs: number; planMs: number; encodeMs: number; submitMs: number };
}

/** An init() under way: later calls share its promise; release() cancels it. */
let opening: { promise: Promise<AdapterInfo>; options: InitOptions } | null = null;

function checkInitOptions(options: InitOptions): void {
  checkOptionKeys('init', options, INIT_OPTIONS);
  for (const key of ['verbose', 'poisonBuffers', 'checkFinite', 'replay'] as const) {
    const v = options[key];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new ArgumentError(`init: option '${key}' must be a boolean, got ${JSON.stringify(v)}`);
    }
  }
  resolveFusion(options.fusion);
  readBackendOption(options);
  checkPlanningLimits(options.limits);
}

/** Throws unless `options` ask for nothing that differs from the engine opened (or opening) with `current`. */
function checkCompatible(options: InitOptions, current: InitOptions, backend: string): void {
  const differs: string[] =
    options.poisonBuffers !== undefined && options.poisonBuffers !== (current.poisonBuffers ?? false)
      ? ['poisonBuffers']
      : [];
  if (options.replay !== undefined && options.replay !== (current.replay ?? true)) differs.push('replay');
  if (
    options.limits !== undefined &&
    JSON.stringify(options.limits) !== JSON.stringify(current.limits ?? {})
  ) {
    differs.push('limits');
  }
  if (
    options.fusion !== undefined &&
    JSON.stringify(resolveFusion(options.fusion)) !== JSON.stringify(resolveFusion(current.fusion))
  ) {
    differs.push('fusion');
  }
  if (options.backend !== undefined && options.backend !== 'auto' && options.backend !== backend) {
    differs.unshift('backend');
  }
  if (differs.length > 0) {
    throw new ArgumentError(
      `init: the engine is already ${state.runtime ? 'open' : 'opening'} with other ${differs.join(', ')}; call release() first to open it with new options`,
    );
  }
}

async function open(options: InitOptions): Promise<AdapterInfo> {
  const { device, info } = await openDevice(options);
  if (opening?.options !== options) {
    // release() ran while the device was being opened.
    device.destroy();
    throw new DisposedError('init: release() was called before init() finished');
  }
  const runtime = new GpuRuntime(device, info, {
    poisonBuffers: options.poisonBuffers ?? false,
    fusion: resolveFusion(options.fusion),
    replay: options.replay ?? true,
  });
  state.runtime = runtime;
  // A lost device also fails the reads still waiting for a flush (release() does that itself).
  void runtime.ended.then((reason) => {
    if (state.runtime === runtime) cancelReads(reason);
  });
  if (options.checkFinite !== undefined) debug.checkFinite = options.checkFinite;
  return info;
}

/**
 * Opens a WebGPU device (Dawn in Node, navigator.gpu in browsers) and returns the adapter's info. Calls made
 * while it is opening share the same device; calling it again while an engine is up returns the current info,
 * and throws ArgumentError if the options ask for another backend or other settings (release() first).
 * Adapter order: real GPU, llvmpipe (OpenGL, compatibility), SwiftShader.
 */
export async function init(options: InitOptions = {}): Promise<AdapterInfo> {
  checkInitOptions(options);
  const current = state.runtime;
  if (current) {
    checkCompatible(options, current.options, current.info.backend);
    if (options.checkFinite !== undefined) debug.checkFinite = options.checkFinite;
    return current.info;
  }
  if (opening) {
    checkCompatible(options, opening.options, readBackendOption(opening.options));
    // The finite check is a switch, not a device setting: a later caller's value applies once the device is open.
    const checkFinite = options.checkFinite;
    if (checkFinite === undefined) return opening.promise;
    return opening.promise.then((info) => {
      debug.checkFinite = checkFinite;
      return info;
    });
  }
  const mine = { options, promise: Promise.resolve() as unknown as Promise<AdapterInfo> };
  opening = mine;
  mine.promise = open(options).finally(() => {
    if (opening === mine) opening = null;
  });
  return mine.promise;
}

/** The adapter in use. */
export function info(): AdapterInfo {
  if (!state.runtime) throw new GpuError('info: the engine is not initialized; call await init() first');
  return state.runtime.info;
}

export function stats(): Stats {
  const r = state.runtime;
  if (!r) throw new GpuError('stats: the engine is not initialized; call await init() first');
  return {
    ...r.counters,
    liveBuffers: r.pool.liveBuffers,
    liveBytes: r.pool.liveBytes,
    pooledBytes: r.pool.pooledBytes,
    cpu: { ...state.cpu, ...r.cpu },
  };
}

/**
 * Destroys the device and every buffer, so the process can exit. Reads still waiting reject with a
 * DisposedError, an init() still opening rejects too, tensors made before become unusable (DisposedError), and
 * `init()` may be called again. Safe to call at any time, any number of times, and after a device loss.
 */
export function release(): void {
  const r = state.runtime;
  state.runtime = null;
  opening = null;
  const reason = new DisposedError(
    'release() was called before this finished; tensors of a released engine cannot be used',
  );
  r?.end(reason);
  cancelReads(reason);
  state.pending = [];
  state.scopes = [];
  state.generation++;
  state.cpu = { recordMs: 0, planMs: 0 };
  r?.destroy();
}
