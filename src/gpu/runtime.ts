// The open device with its caches: pipelines, buffer pool, uniform packing, encoding and submission, and its end.
import { DisposedError, GpuError, WebgradError } from '../errors.js';
import type { FusionPass } from '../options.js';
import type { AdapterInfo } from './device.js';
import { BufferPool } from './pool.js';
import { shaderCode, type ShaderName } from './shaders.js';
import { BindGroupCache } from './bind_groups.js';
import { encodeSnapshot, encodeTimestamped, type EncodedDispatch, type TimingRecorder } from './timing.js';

/** A uniform field: a plain number is a u32; `{ f32 }` and `{ i32 }` say otherwise. */
export type UniformValue = number | { f32: number } | { i32: number };

/** A window of a storage buffer: byte offset (a multiple of minStorageBufferOffsetAlignment) and byte size. */
export interface BufferRange {
  offset: number;
  size: number;
}

/** One compute dispatch, recorded by an op's forward plan and encoded later by the scheduler. */
export interface Dispatch {
  /** A built-in shader, or `op:<name>` for a user op's WGSL (then in `code`). */
  shader: ShaderName | `op:${string}`;
  /** The WGSL of a user op (wg.defineOp); built-in shaders come from the registry. */
  code?: string;
  /** Values for the shader's `override` constants (tile and workgroup sizes). */
  constants?: Record<string, number>;
  /** Text for marked regions (see `shaderCode`); part of the pipeline's cache key. */
  regions?: Record<string, string>;
  /** Fields of the `Params` struct at binding 0, in declaration order, each 4 bytes. */
  uniforms: UniformValue[];
  /** Storage buffers at bindings 1, 2, ...: inputs first, then outputs. */
  buffers: GPUBuffer[];
  /**
   * Per binding of `buffers`, the window bound instead of the whole buffer (ops that split a tensor larger than
   * one binding: see ops/split.ts); absent or undefined entries bind whole.
   */
  ranges?: readonly (BufferRange | undefined)[];
  /** Number of workgroups; spread over x and y when past the per-dimension limit. */
  workgroups: number;
}

export interface Counters {
  dispatches: number;
  submits: number;
  readbacks: number;
}

/** How the runtime was opened (see InitOptions). */
export interface RuntimeOptions {
  poisonBuffers: boolean;
  /** The fusion passes switched on. */
  fusion: Record<FusionPass, boolean>;
  /** Reuse the dispatches, pipelines, bind groups and uniforms of a flush shaped like an earlier one. */
  replay: boolean;
}

/** The WGSL a dispatch compiles: a user op's own code, or the built-in shader with its regions. */
export function dispatchCode(d: Pick<Dispatch, 'shader' | 'code' | 'regions'>): string {
  if (d.code !== undefined) return d.code;
  return shaderCode(d.shader as ShaderName, d.regions);
}

/** Splits a workgroup count over x and y; shaders linearize with `wid.x + wid.y * nwg.x`. */
export function grid(workgroups: number, maxPerDim: number): [number, number] {
  if (workgroups <= maxPerDim) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / maxPerDim);
  return [Math.ceil(workgroups / y), y];
}

/** Free staging buffers kept per byte size (a step reads a loss or two; an evaluation a few outputs). */
const STAGING_PER_SIZE = 4;

/** No uniform ranges repacked (shared, never written). */
const NOTHING_REPACKED: number[] = [];

/** Bytes bound for a dispatch's uniforms: the field count rounded up to 16 bytes. */
function uniformBytes(d: Dispatch): number {
  return Math.max(16, Math.ceil(d.uniforms.length / 4) * 16);
}

/** A submit's packed uniforms and encoded dispatches, kept for a replayed submit of the same dispatch objects. */
interface EncodedSubmit {
  dispatches: readonly Dispatch[];
  /** The uniform arrays packed into `data`, per dispatch (a replayed node given new uniforms has new arrays). */
  packed: UniformValue[][];
  data: ArrayBuffer;
  offsets: number[];
  encoded: EncodedDispatch[];
}

/** Writes one dispatch's uniform fields at 32-bit word `base` of packed data (seen through three views). */
function packFields(
  views: { u32: Uint32Array; i32: Int32Array; f32: Float32Array },
  base: number,
  uniforms: readonly UniformValue[],
): void {
  for (let i = 0; i < uniforms.length; i++) {
    const v = uniforms[i];
    if (typeof v === 'number') views.u32[base + i] = v;
    else if ('f32' in v) views.f32[base + i] = v.f32;
    else views.i32[base + i] = v.i32;
  }
}

export class GpuRuntime {
  readonly pool: BufferPool;
  readonly counters: Counters = { dispatches: 0, submits: 0, readbacks: 0 };
  /** The fusion passes the scheduler runs (see InitOptions.fusion). */
  readonly fusion: Readonly<Record<FusionPass, boolean>>;
  /** The most workgroups one dispatch can have (x times y, each up to maxComputeWorkgroupsPerDimension). */
  readonly maxWorkgroups: number;
  /** Settles with the reason once the runtime has ended (released or device lost); never rejects. */
  readonly ended: Promise<WebgradError>;
  private endedWith: WebgradError | null = null;
  /** The rejecters of the waits in flight (`unlessEnded`): `end` rejects them with its reason. */
  private readonly waits = new Set<(reason: WebgradError) => void>();
  private resolveEnded!: (reason: WebgradError) => void;
  /** Host milliseconds spent encoding submits (up to `finish()`) and inside `queue.submit`. */
  readonly cpu = { encodeMs: 0, submitMs: 0 };
  /** Set by wg.profile while it records: submits are timed kernel by kernel (see `submit`). */
  profiler: TimingRecorder | null = null;
  private pipelines = new Map<string, GPUComputePipeline>();
  private readonly codeIds = new Map<string, number>();
  /** Encoded submits by their first dispatch (replayed flushes submit the same dispatch objects again). */
  private submits = new WeakMap<Dispatch, EncodedSubmit>();
  /** Bind groups by pipeline, uniform range and buffers: a step that binds the same buffers reuses them. */
  readonly bindGroups: BindGroupCache;
  private uniformBuffer: GPUBuffer | null = null;
  /** The packed uniforms last written, and the buffer they were written to. */
  private uniformsHeld: ArrayBuffer | null = null;
  private uniformsIn: GPUBuffer | null = null;
  /** Pipelines by dispatch object: a dispatch encoded again (a replayed node) skips building the cache key. */
  private pipelineOf = new WeakMap<Dispatch, GPUComputePipeline>();
  /** Mappable buffers for reads, free for reuse, by byte size (see `staging`). */
  private freeStaging = new Map<number, GPUBuffer[]>();
  private readonly uniformAlign: number;
  private readonly maxGrid: number;
  /** An error the device reported outside any error scope; none is expected (all work runs inside scopes). */
  private uncaptured: GpuError | null = null;

  constructor(
    readonly device: GPUDevice,
    readonly info: AdapterInfo,
    readonly options: RuntimeOptions,
  ) {
    const limits = info.limits;
    this.fusion = options.fusion;
    const maxBinding = Math.min(
      limits.maxStorageBufferBindingSize ?? Infinity,
      limits.maxBufferSize ?? Infinity,
    );
    this.pool = new BufferPool(device, options.poisonBuffers, maxBinding);
    this.bindGroups = new BindGroupCache(device);
    this.uniformAlign = limits.minUniformBufferOffsetAlignment ?? 256;
    this.maxGrid = limits.maxComputeWorkgroupsPerDimension ?? 65535;
    this.maxWorkgroups = this.maxGrid * this.maxGrid;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    device.lost.then((lost) => {
      // Any loss, 'destroyed' included (someone called device.destroy()), ends the engine; release() ends it
      // first with its own reason, so its loss is not reported.
      this.end(
        new GpuError(
          `GPU device lost (${lost.reason ?? 'unknown'}: ${lost.message || 'no message'}); call release() and then init() to start a new engine`,
        ),
      );
    });
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.uncaptured ??= new GpuError(`GPU error outside a flush: ${ev.error.message}`);
    };
  }

  /** Why this runtime can no longer run work, or null while it can. */
  get endReason(): WebgradError | null {
    return this.endedWith;
  }

  /** Ends the runtime (idempotent: the first reason wins): pending waits on the device give up with `reason`. */
  end(reason: WebgradError): void {
    if (this.endedWith) return;
    this.endedWith = reason;
    this.resolveEnded(reason);
    for (const giveUp of this.waits) giveUp(reason);
    this.waits.clear();
  }

  /** Throws the end reason (GpuError for a lost device), prefixed with `what`, if the runtime has ended. */
  assertRunning(what: string): void {
    const reason = this.endedWith;
    if (!reason) return;
    const Class = reason instanceof GpuError ? GpuError : DisposedError;
    throw new Class(`${what}: ${reason.message}`, { cause: reason });
  }

  /**
   * Waits for `p`, unless the runtime ends first: then rejects with the end reason. Every wait on the device goes
   * through here, so no promise of webgrad's hangs after release() or a device loss.
   */
  unlessEnded<T>(p: Promise<T>): Promise<T> {
    const reason = this.endedWith;
    if (reason) return Promise.race([p, Promise.reject(reason)]);
    // Not a race with `ended`: each race would leave a reaction on that promise until the runtime ends (a few per
    // step, kept for the engine's life). The wait's rejecter is held only while `p` is pending.
    return new Promise<T>((resolve, reject) => {
      this.waits.add(reject);
      p.then(
        (value) => {
          this.waits.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.waits.delete(reject);
          reject(error);
        },
      );
    });
  }

  /** A number per distinct WGSL text of a user op (its pipeline's key: two texts never share one). */
  private codeId(code: string): number {
    let id = this.codeIds.get(code);
    if (id === undefined) this.codeIds.set(code, (id = this.codeIds.size));
    return id;
  }

  pipeline(d: Pick<Dispatch, 'shader' | 'code' | 'constants' | 'regions'>): GPUComputePipeline {
    const key = `${d.shader}|${d.code ? this.codeId(d.code) : ''}|${JSON.stringify(d.constants ?? {})}|${JSON.stringify(d.regions ?? {})}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({
        label: d.shader,
        code: dispatchCode(d),
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

  /** The pipeline of `d`, remembered per dispatch object. */
  private dispatchPipeline(d: Dispatch): GPUComputePipeline {
    let p = this.pipelineOf.get(d);
    if (!p) this.pipelineOf.set(d, (p = this.pipeline(d)));
    return p;
  }

  /**
   * A buffer to copy `bytes` into and map for reading (MAP_READ | COPY_DST): a free one of that size when there
   * is one (every step reads its loss: creating and destroying one per read costs host time), else a new one.
   * Give it back with `returnStaging` once unmapped.
   */
  staging(bytes: number): GPUBuffer {
    const reused = this.freeStaging.get(bytes)?.pop();
    if (reused) return reused;
    return this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Takes back an unmapped staging buffer for reuse (a few per size; the others are destroyed). */
  returnStaging(buffer: GPUBuffer): void {
    if (this.endedWith) {
      buffer.destroy();
      return;
    }
    let list = this.freeStaging.get(buffer.size);
    if (!list) this.freeStaging.set(buffer.size, (list = []));
    if (list.length < STAGING_PER_SIZE) list.push(buffer);
    else buffer.destroy();
  }

  private packUniforms(dispatches: readonly Dispatch[]): { data: ArrayBuffer; offsets: number[] } {
    const offsets: number[] = [];
    let end = 0;
    for (const d of dispatches) {
      offsets.push(end);
      end += Math.ceil(uniformBytes(d) / this.uniformAlign) * this.uniformAlign;
    }
    const data = new ArrayBuffer(Math.max(end, 16));
    const views = { u32: new Uint32Array(data), i32: new Int32Array(data), f32: new Float32Array(data) };
    dispatches.forEach((d, k) => packFields(views, offsets[k] / 4, d.uniforms));
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
   * Starts capturing the device's errors for one flush: everything the scheduler does to the device between this
   * and `endCapture` (buffer creation, uploads, encoding, the submit) is judged together.
   */
  beginCapture(): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
  }

  /** Ends the capture begun by `beginCapture`; resolves with the device's verdict on that work (never rejects). */
  endCapture(): Promise<GpuError | null> {
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    const stray = this.uncaptured;
    this.uncaptured = null;
    return Promise.all([validation, memory]).then(
      ([v, m]) => {
        const e = v ?? m;
        if (e) return new GpuError(`GPU ${v ? 'validation' : 'out-of-memory'} error: ${e.message}`);
        return stray;
      },
      (e: unknown) => this.endedWith ?? new GpuError(`GPU error scope failed: ${String(e)}`, { cause: e }),
    );
  }

  /**
   * Encodes the dispatches into one compute pass, then the copies, and submits once (inside a capture). While a
   * profiler records (see `profiler`), each dispatch gets its own pass between timestamps, or, without
   * timestamp queries, the buffers it binds are copied first for a timed replay.
   */
  submit(
    dispatches: readonly Dispatch[],
    copies: readonly { from: GPUBuffer; to: GPUBuffer; bytes: number }[],
  ): void {
    const start = performance.now();
    const device = this.device;
    const encoder = device.createCommandEncoder();
    if (dispatches.length > 0) {
      const { data, encoded, repacked } = this.encodedSubmit(dispatches);
      const ubuf = this.uniforms(data.byteLength);
      // A replayed submit packs the very same uniform data: the buffer still holds it unless another submit (the
      // tuner's, a profile) wrote since, so the write is skipped, or only the ranges repacked are written.
      if (this.uniformsHeld !== data || this.uniformsIn !== ubuf) {
        device.queue.writeBuffer(ubuf, 0, data);
        this.uniformsHeld = data;
        this.uniformsIn = ubuf;
      } else {
        for (let r = 0; r < repacked.length; r += 2)
          device.queue.writeBuffer(ubuf, repacked[r], data, repacked[r], repacked[r + 1] - repacked[r]);
      }
      const bindGroup = (d: EncodedDispatch) => {
        if (d.boundTo !== ubuf) {
          d.bindGroup = this.bindGroups.get(d, ubuf, this.options.replay);
          d.boundTo = ubuf;
        }
        return d.bindGroup!;
      };
      const rec = this.profiler;
      if (rec?.mode === 'timestamp-query') {
        rec.pending.push(Promise.resolve().then(encodeTimestamped(device, encoder, encoded, bindGroup)));
      } else {
        // A copy: a later replayed submit may repack the uniforms of this one's data in place.
        if (rec) rec.snapshots.push(encodeSnapshot(device, encoder, encoded, data.slice(0)));
        const pass = encoder.beginComputePass();
        let current: GPUComputePipeline | null = null;
        for (const d of encoded) {
          // Consecutive dispatches of one kernel (the passes of a reduction, split parts) set it once.
          if (d.pipeline !== current) pass.setPipeline((current = d.pipeline));
          pass.setBindGroup(0, bindGroup(d));
          pass.dispatchWorkgroups(d.grid[0], d.grid[1]);
        }
        pass.end();
      }
    }
    for (const c of copies) encoder.copyBufferToBuffer(c.from, 0, c.to, 0, c.bytes);
    const commands = encoder.finish();
    const encoded = performance.now();
    device.queue.submit([commands]);
    this.cpu.encodeMs += encoded - start;
    this.cpu.submitMs += performance.now() - encoded;
    this.counters.dispatches += dispatches.length;
    this.counters.submits++;
  }

  /**
   * The packed uniforms and encoded dispatches of a submit. A submit of exactly the dispatch objects of an
   * earlier one (a replayed flush: see graph/replay.ts) reuses that one's, uniforms and bind groups included;
   * a dispatch whose uniforms are a new array (a replayed node with new uniform-only attributes) is repacked in
   * place, and `repacked` lists the byte ranges rewritten (start, end, ...), merged where adjacent.
   */
  private encodedSubmit(dispatches: readonly Dispatch[]): {
    data: ArrayBuffer;
    encoded: EncodedDispatch[];
    repacked: number[];
  } {
    if (this.options.replay) {
      const known = this.submits.get(dispatches[0]);
      if (known && known.dispatches.length === dispatches.length) {
        let same = true;
        let changed = false;
        for (let i = 0; i < dispatches.length && same; i++) {
          same = known.dispatches[i] === dispatches[i];
          changed ||= known.packed[i] !== dispatches[i].uniforms;
        }
        if (same) return { ...known, repacked: changed ? this.repack(known) : NOTHING_REPACKED };
      }
    }
    const { data, offsets } = this.packUniforms(dispatches);
    const encoded = dispatches.map((d, k): EncodedDispatch => ({
      pipeline: this.dispatchPipeline(d),
      uniformOffset: offsets[k],
      uniformSize: uniformBytes(d),
      buffers: d.buffers,
      ranges: d.ranges,
      grid: grid(d.workgroups, this.maxGrid),
    }));
    const packed = dispatches.map((d) => d.uniforms);
    const result = { dispatches, packed, data, offsets, encoded };
    if (this.options.replay) this.submits.set(dispatches[0], result);
    return { ...result, repacked: NOTHING_REPACKED };
  }

  /** Packs anew, into the kept data, the uniforms of dispatches that have new uniform arrays; their byte ranges. */
  private repack(known: EncodedSubmit): number[] {
    const { data, offsets, dispatches, packed } = known;
    const views = { u32: new Uint32Array(data), i32: new Int32Array(data), f32: new Float32Array(data) };
    const ranges: number[] = [];
    for (let k = 0; k < dispatches.length; k++) {
      const d = dispatches[k];
      if (packed[k] === d.uniforms) continue;
      packFields(views, offsets[k] / 4, d.uniforms);
      packed[k] = d.uniforms;
      // The aligned slot, padding included (zeros either way), so neighbouring slots merge into one write.
      const start = offsets[k];
      const end = start + Math.ceil(uniformBytes(d) / this.uniformAlign) * this.uniformAlign;
      if (ranges.length > 0 && ranges[ranges.length - 1] === start) ranges[ranges.length - 1] = end;
      else ranges.push(start, end);
    }
    return ranges;
  }

  /** Whether kernel times can come from timestamp queries on this device. */
  get hasTimestamps(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /** Frees every GPU resource; the runtime is unusable afterwards (end() it first with the reason). */
  destroy(): void {
    this.pool.trim();
    for (const list of this.freeStaging.values()) for (const b of list) b.destroy();
    this.freeStaging.clear();
    this.uniformBuffer?.destroy();
    this.pipelines.clear();
    this.bindGroups.clear();
    this.device.destroy();
  }
}
