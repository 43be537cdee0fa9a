// Turns the pending nodes into one command encoder and one submit: prune → plan memory → encode → submit.
import { GpuError } from '../errors.js';
import type { Dispatch, GpuRuntime } from '../gpu/runtime.js';
import type { KernelIO } from '../ops/types.js';
import { maybeFree, requireRuntime, state, type Node, type Storage } from './state.js';
import type { Tensor } from './tensor.js';

/** Uploads values of leaves created before the device existed. */
function upload(runtime: GpuRuntime, s: Storage): void {
  if (s.buffer || !s.upload) return;
  s.buffer = runtime.pool.acquire(s.bytes);
  runtime.device.queue.writeBuffer(s.buffer, 0, s.upload.buffer, s.upload.byteOffset, s.upload.byteLength);
  s.upload = null;
}

/** Marks nodes whose outputs nobody holds or reads as dead, back to front, so their inputs may die too. */
function prune(nodes: readonly Node[]): Node[] {
  const live: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    const alive = n.writes.some((s) => s.refs > 0) || n.outputs.some((t) => t.storage.alive);
    if (alive) {
      live.push(n);
      continue;
    }
    n.pending = false;
    for (const t of n.inputs) {
      t.storage.readers--;
      maybeFree(t.storage);
    }
  }
  return live.reverse();
}

/** Plans buffers for one node and returns its dispatches; frees what no later node reads. */
function planNode(runtime: GpuRuntime, n: Node): Dispatch[] {
  for (const t of n.outputs) t.storage.buffer = runtime.pool.acquire(t.storage.bytes);
  const scratch: GPUBuffer[] = [];
  const io: KernelIO = {
    inputs: n.inputs.map((t) => ({ buffer: t.storage.buffer!, spec: { shape: t.shape, dtype: t.dtype } })),
    outputs: n.outputs.map((t) => ({ buffer: t.storage.buffer!, spec: { shape: t.shape, dtype: t.dtype } })),
    scratch(bytes) {
      const b = runtime.pool.acquire(bytes);
      scratch.push(b);
      return b;
    },
    limits: runtime.info.limits,
    backend: runtime.info.backend,
  };
  const forward = n.op.forward;
  if (forward === 'alias') throw new Error(`scheduler: view op ${n.op.name} cannot be pending`);
  const dispatches = forward(io, n.attrs);
  // Dispatches run in order, so buffers released here can be reused by later nodes of the same pass.
  for (const b of scratch) runtime.pool.release(b);
  n.pending = false;
  for (const t of n.inputs) {
    t.storage.readers--;
    maybeFree(t.storage);
  }
  for (const t of n.outputs) maybeFree(t.storage);
  return dispatches;
}

interface Flushed {
  verdict: Promise<GpuError | null>;
  staging: GPUBuffer[];
}

function run(readbacks: readonly Tensor[]): Flushed {
  const runtime = requireRuntime('flush');
  runtime.throwPending();
  const nodes = prune(state.pending);
  state.pending = [];
  // All uploads go before any buffer changes hands: queued writes land ahead of the whole submit.
  for (const n of nodes) for (const t of n.inputs) upload(runtime, t.storage);
  for (const t of readbacks) upload(runtime, t.storage);
  const dispatches: Dispatch[] = [];
  for (const n of nodes) dispatches.push(...planNode(runtime, n));
  const staging = readbacks.map((t) =>
    runtime.device.createBuffer({
      size: t.storage.bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    }),
  );
  const copies = readbacks.map((t, i) => ({
    from: t.storage.buffer!,
    to: staging[i],
    bytes: t.storage.bytes,
  }));
  const verdict = runtime.submit(dispatches, copies);
  return { verdict, staging };
}

/** Encodes and submits everything pending without waiting for the GPU; errors surface at the next flush. */
export function flush(): void {
  const runtime = requireRuntime('flush');
  const { verdict } = run([]);
  void verdict.then((e) => {
    if (e) runtime.deferredError ??= e;
  });
}

/** Flushes with a copy of `t` to a staging buffer in the same submit, then maps and reads it. */
export async function readback(t: Tensor): Promise<Float32Array | Int32Array> {
  const runtime = requireRuntime('data');
  if (!t.storage.buffer && !t.storage.upload && !t.node) {
    throw new GpuError(`data: tensor ${t.toString()} has no values`);
  }
  const { verdict, staging } = run([t]);
  const [buffer] = staging;
  try {
    const error = await verdict;
    if (error) throw error;
    await buffer.mapAsync(GPUMapMode.READ);
    const bytes = buffer.getMappedRange().slice(0, t.size * 4);
    buffer.unmap();
    runtime.counters.readbacks++;
    return t.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
  } finally {
    buffer.destroy();
  }
}
