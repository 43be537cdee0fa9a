// Per-kernel GPU time: timestamp queries around each dispatch, or, without them, a timed kernel-by-kernel replay.
import type { BufferRange } from './runtime.js';

/** How kernel times were taken. */
export type TimingMode = 'timestamp-query' | 'kernel-by-kernel';

/** One dispatch ready to encode: its pipeline, bind group entries past the uniforms, and grid. */
export interface EncodedDispatch {
  pipeline: GPUComputePipeline;
  /** The uniform range of this dispatch in its submit's uniform data. */
  uniformOffset: number;
  uniformSize: number;
  buffers: readonly GPUBuffer[];
  /** The window bound per buffer, where not the whole buffer (see Dispatch.ranges). */
  ranges?: readonly (BufferRange | undefined)[];
  grid: [number, number];
  /** The bind group last made for it, and the uniform buffer it binds (a replayed submit reuses both). */
  bindGroup?: GPUBindGroup;
  boundTo?: GPUBuffer;
}

/** A submit captured for the kernel-by-kernel replay: copies of every buffer it binds, taken before it ran. */
export interface Snapshot {
  dispatches: EncodedDispatch[];
  /** The uniform data of the submit. */
  uniforms: ArrayBuffer;
  /** Original buffer → its copy made at the start of the submit. */
  copies: Map<GPUBuffer, GPUBuffer>;
}

/** What the profiler collects from the submits made while it is on. */
export class TimingRecorder {
  /** Per-kernel milliseconds of each timed submit, in order (timestamp mode). */
  readonly pending: Promise<number[]>[] = [];
  /** Submits to replay kernel by kernel (no timestamps). */
  readonly snapshots: Snapshot[] = [];
  constructor(readonly mode: TimingMode) {}
}

/** Queries one set may hold (the WebGPU limit). */
const QUERIES_PER_SET = 4096;

/**
 * Encodes each dispatch in its own compute pass with timestamps at its start and end (in one encoder, so still
 * one submit), and returns a function to call after the submit: the per-kernel times in milliseconds.
 */
export function encodeTimestamped(
  device: GPUDevice,
  encoder: GPUCommandEncoder,
  dispatches: readonly EncodedDispatch[],
  bindGroup: (d: EncodedDispatch) => GPUBindGroup,
): () => Promise<number[]> {
  const perSet = QUERIES_PER_SET / 2;
  const sets: { set: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer; count: number }[] = [];
  for (let start = 0; start < dispatches.length; start += perSet) {
    const count = Math.min(perSet, dispatches.length - start) * 2;
    sets.push({
      set: device.createQuerySet({ type: 'timestamp', count }),
      resolve: device.createBuffer({
        size: count * 8,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      }),
      read: device.createBuffer({
        size: count * 8,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      }),
      count,
    });
  }
  dispatches.forEach((d, k) => {
    const { set } = sets[Math.floor(k / perSet)];
    const q = (k % perSet) * 2;
    const pass = encoder.beginComputePass({
      timestampWrites: { querySet: set, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 },
    });
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, bindGroup(d));
    pass.dispatchWorkgroups(d.grid[0], d.grid[1]);
    pass.end();
  });
  for (const s of sets) {
    encoder.resolveQuerySet(s.set, 0, s.count, s.resolve, 0);
    encoder.copyBufferToBuffer(s.resolve, 0, s.read, 0, s.count * 8);
  }
  return async () => {
    const ms: number[] = [];
    try {
      for (const s of sets) {
        await s.read.mapAsync(GPUMapMode.READ);
        const t = new BigInt64Array(s.read.getMappedRange().slice(0));
        s.read.unmap();
        for (let i = 0; i < s.count; i += 2) ms.push(Math.max(0, Number(t[i + 1] - t[i])) / 1e6);
      }
    } finally {
      for (const s of sets) {
        s.set.destroy();
        s.resolve.destroy();
        s.read.destroy();
      }
    }
    return ms;
  };
}

/** Encodes copies of every buffer `dispatches` bind, ahead of them in the same encoder. */
export function encodeSnapshot(
  device: GPUDevice,
  encoder: GPUCommandEncoder,
  dispatches: EncodedDispatch[],
  uniforms: ArrayBuffer,
): Snapshot {
  const copies = new Map<GPUBuffer, GPUBuffer>();
  for (const d of dispatches) {
    for (const b of d.buffers) {
      if (copies.has(b)) continue;
      const copy = device.createBuffer({
        size: b.size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      });
      encoder.copyBufferToBuffer(b, 0, copy, 0, b.size);
      copies.set(b, copy);
    }
  }
  return { dispatches, uniforms: uniforms.slice(0), copies };
}

/**
 * Replays a snapshot on its copies, one submit per kernel, waiting for each: every kernel sees the inputs it saw
 * in the real run, and no live value changes. Returns the wall time of each kernel's submit in milliseconds
 * (it includes one submit and wait round trip: see `submitOverhead`). Frees the copies.
 */
export async function replayTimed(device: GPUDevice, snap: Snapshot): Promise<number[]> {
  const ubuf = device.createBuffer({
    size: Math.max(16, snap.uniforms.byteLength),
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(ubuf, 0, snap.uniforms);
  await device.queue.onSubmittedWorkDone();
  const ms: number[] = [];
  try {
    for (const d of snap.dispatches) {
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: ubuf, offset: d.uniformOffset, size: d.uniformSize } },
      ];
      d.buffers.forEach((b, i) =>
        entries.push({ binding: i + 1, resource: { buffer: snap.copies.get(b)!, ...d.ranges?.[i] } }),
      );
      const bindGroup = device.createBindGroup({ layout: d.pipeline.getBindGroupLayout(0), entries });
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(d.grid[0], d.grid[1]);
      pass.end();
      const start = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      ms.push(performance.now() - start);
    }
  } finally {
    ubuf.destroy();
    for (const c of snap.copies.values()) c.destroy();
  }
  return ms;
}

/** The median wall time of an empty submit and wait: the floor under each kernel-by-kernel time. */
export async function submitOverhead(device: GPUDevice, runs = 9): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    device.queue.submit([device.createCommandEncoder().finish()]);
    await device.queue.onSubmittedWorkDone();
    times.push(performance.now() - start);
  }
  return median(times);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
