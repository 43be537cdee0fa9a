// The open device with its caches: pipelines, buffer pool, uniform packing, encoding and submission.
import { GpuError } from '../errors.js';
import type { AdapterInfo } from './device.js';
import { BufferPool } from './pool.js';
import { shaderCode, type ShaderName } from './shaders.js';

/** A uniform field: a plain number is a u32; `{ f32 }` and `{ i32 }` say otherwise. */
export type UniformValue = number | { f32: number } | { i32: number };

/** One compute dispatch, recorded by an op's forward plan and encoded later by the scheduler. */
export interface Dispatch {
  shader: ShaderName;
  /** Values for the shader's `override` constants (tile and workgroup sizes). */
  constants?: Record<string, number>;
  /** Text for marked regions (see `shaderCode`); part of the pipeline's cache key. */
  regions?: Record<string, string>;
  /** Fields of the `Params` struct at binding 0, in declaration order, each 4 bytes. */
  uniforms: UniformValue[];
  /** Storage buffers at bindings 1, 2, ...: inputs first, then outputs. */
  buffers: GPUBuffer[];
  /** Number of workgroups; spread over x and y when past the per-dimension limit. */
  workgroups: number;
}

export interface Counters {
  dispatches: number;
  submits: number;
  readbacks: number;
}

/** Splits a workgroup count over x and y; shaders linearize with `wid.x + wid.y * nwg.x`. */
export function grid(workgroups: number, maxPerDim: number): [number, number] {
  if (workgroups <= maxPerDim) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / maxPerDim);
  return [Math.ceil(workgroups / y), y];
}

/** Bytes bound for a dispatch's uniforms: the field count rounded up to 16 bytes. */
function uniformBytes(d: Dispatch): number {
  return Math.max(16, Math.ceil(d.uniforms.length / 4) * 16);
}

export class GpuRuntime {
  readonly pool: BufferPool;
  readonly counters: Counters = { dispatches: 0, submits: 0, readbacks: 0 };
  private pipelines = new Map<string, GPUComputePipeline>();
  private uniformBuffer: GPUBuffer | null = null;
  private readonly uniformAlign: number;
  private readonly maxGrid: number;
  /** An error reported by the device for earlier work; thrown at the next flush, then cleared. */
  deferredError: GpuError | null = null;
  lost: string | null = null;

  constructor(
    readonly device: GPUDevice,
    readonly info: AdapterInfo,
    /** Held so the WebGPU instance outlives the device; dropped by destroy(). */
    private instance: GPU | null,
    poisonBuffers = false,
    /** Whether the scheduler fuses epilogues (see InitOptions.fusion). */
    readonly fusion = true,
  ) {
    this.pool = new BufferPool(device, poisonBuffers);
    this.uniformAlign = info.limits.minUniformBufferOffsetAlignment ?? 256;
    this.maxGrid = info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    device.lost.then((lost) => {
      if (lost.reason !== 'destroyed') this.lost = `device lost: ${lost.message}`;
    });
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.deferredError ??= new GpuError(`GPU error: ${ev.error.message}`);
    };
  }

  /** Throws (once) an error the device reported for earlier work, or if the device is gone. */
  throwPending(): void {
    if (this.lost) throw new GpuError(this.lost);
    const e = this.deferredError;
    if (e) {
      this.deferredError = null;
      throw e;
    }
  }

  pipeline(d: Pick<Dispatch, 'shader' | 'constants' | 'regions'>): GPUComputePipeline {
    const key = `${d.shader}|${JSON.stringify(d.constants ?? {})}|${JSON.stringify(d.regions ?? {})}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({
        label: d.shader,
        code: shaderCode(d.shader, d.regions),
      });
      p = this.device.createComputePipeline({
        label: d.shader,
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: d.constants },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private packUniforms(dispatches: readonly Dispatch[]): { data: ArrayBuffer; offsets: number[] } {
    const offsets: number[] = [];
    let end = 0;
    for (const d of dispatches) {
      offsets.push(end);
      end += Math.ceil(uniformBytes(d) / this.uniformAlign) * this.uniformAlign;
    }
    const data = new ArrayBuffer(Math.max(end, 16));
    const u32 = new Uint32Array(data);
    const i32 = new Int32Array(data);
    const f32 = new Float32Array(data);
    dispatches.forEach((d, k) => {
      const base = offsets[k] / 4;
      d.uniforms.forEach((v, i) => {
        if (typeof v === 'number') u32[base + i] = v;
        else if ('f32' in v) f32[base + i] = v.f32;
        else i32[base + i] = v.i32;
      });
    });
    return { data, offsets };
  }

  private uniforms(bytes: number): GPUBuffer {
    if (!this.uniformBuffer || this.uniformBuffer.size < bytes) {
      // Work already submitted keeps the old buffer alive until it completes.
      this.uniformBuffer?.destroy();
      this.uniformBuffer = this.device.createBuffer({
        size: Math.max(4096, 2 ** Math.ceil(Math.log2(bytes))),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
    }
    return this.uniformBuffer;
  }

  /**
   * Encodes the dispatches into one compute pass, then the copies, and submits once.
   * Returns a promise for the device's verdict on this submission (validation or memory errors).
   */
  submit(
    dispatches: readonly Dispatch[],
    copies: readonly { from: GPUBuffer; to: GPUBuffer; bytes: number }[],
  ): Promise<GpuError | null> {
    const device = this.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const encoder = device.createCommandEncoder();
    if (dispatches.length > 0) {
      const { data, offsets } = this.packUniforms(dispatches);
      const ubuf = this.uniforms(data.byteLength);
      device.queue.writeBuffer(ubuf, 0, data);
      const pass = encoder.beginComputePass();
      dispatches.forEach((d, k) => {
        const pipeline = this.pipeline(d);
        const entries: GPUBindGroupEntry[] = [
          { binding: 0, resource: { buffer: ubuf, offset: offsets[k], size: uniformBytes(d) } },
        ];
        d.buffers.forEach((buffer, i) => entries.push({ binding: i + 1, resource: { buffer } }));
        const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        const [x, y] = grid(d.workgroups, this.maxGrid);
        pass.dispatchWorkgroups(x, y);
      });
      pass.end();
    }
    for (const c of copies) encoder.copyBufferToBuffer(c.from, 0, c.to, 0, c.bytes);
    device.queue.submit([encoder.finish()]);
    this.counters.dispatches += dispatches.length;
    this.counters.submits++;
    const validation = device.popErrorScope();
    const memory = device.popErrorScope();
    return Promise.all([validation, memory]).then(([v, m]) => {
      const e = v ?? m;
      return e ? new GpuError(`GPU ${v ? 'validation' : 'out-of-memory'} error: ${e.message}`) : null;
    });
  }

  /** Frees every GPU resource; the runtime is unusable afterwards. */
  destroy(): void {
    this.pool.trim();
    this.uniformBuffer?.destroy();
    this.pipelines.clear();
    this.device.destroy();
    this.instance = null;
  }
}
