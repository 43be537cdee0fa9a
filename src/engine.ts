// Engine lifetime and introspection: init, release, info, stats.
import { GpuError } from './errors.js';
import { openDevice, type AdapterInfo, type InitOptions } from './gpu/device.js';
import { GpuRuntime } from './gpu/runtime.js';
import { state } from './graph/state.js';

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
}

/**
 * Opens a WebGPU device (Dawn in Node, navigator.gpu in browsers). Calling it again while an engine is up
 * returns the current adapter's info. Adapter order: real GPU, llvmpipe (OpenGL, compatibility), SwiftShader.
 */
export async function init(options: InitOptions = {}): Promise<AdapterInfo> {
  if (state.runtime) return state.runtime.info;
  const { device, info, instance } = await openDevice(options);
  state.runtime = new GpuRuntime(
    device,
    info,
    instance,
    options.poisonBuffers ?? false,
    options.fusion ?? true,
  );
  return info;
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
  };
}

/**
 * Destroys the device and every buffer, so the process can exit. Tensors made before become unusable
 * (DisposedError); `init()` may be called again.
 */
export function release(): void {
  const r = state.runtime;
  state.runtime = null;
  state.pending = [];
  state.scopes = [];
  state.generation++;
  r?.destroy();
}
