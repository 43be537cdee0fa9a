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

/**
 * The fusion pass: an op that can run as an epilogue (relu) whose input is output 0 of a producer that offers
 * that epilogue, and is the only reader of that output while no tensor holds it, is folded into the producer.
 * Returns the folded node by producer.
 */
function fuseEpilogues(nodes: readonly Node[]): Map<Node, Node> {
  const fused = new Map<Node, Node>();
  const producers = new Map<Storage, Node>();
  for (const n of nodes) if (n.op.epilogues && n.outputs.length > 0) producers.set(n.outputs[0].storage, n);
  for (const e of nodes) {
    const kind = e.op.asEpilogue;
    const s = e.inputs[0]?.storage;
    const producer = s && producers.get(s);
    if (!kind || !producer || fused.has(producer) || !producer.op.epilogues!.includes(kind)) continue;
    if (s.refs === 0 && s.readers === 1) fused.set(producer, e);
  }
  return fused;
}

/**
 * Plans buffers for one node and returns its dispatches; frees what no later node reads. With `epilogue`, the
 * node stores output 0 through it, straight into the epilogue node's output.
 */
function planNode(runtime: GpuRuntime, n: Node, epilogue?: Node): Dispatch[] {
  const stored = (i: number) => (i === 0 && epilogue ? epilogue.outputs[0].storage : n.outputs[i].storage);
  n.outputs.forEach((_, i) => (stored(i).buffer = runtime.pool.acquire(stored(i).bytes)));
  const scratch: GPUBuffer[] = [];
  const io: KernelIO = {
    inputs: n.inputs.map((t) => ({ buffer: t.storage.buffer!, spec: { shape: t.shape, dtype: t.dtype } })),
    outputs: n.outputs.map((t, i) => ({
      buffer: stored(i).buffer!,
      spec: { shape: t.shape, dtype: t.dtype },
    })),
    scratch(bytes) {
      const b = runtime.pool.acquire(bytes);
      scratch.push(b);
      return b;
    },
    limits: runtime.info.limits,
    software: runtime.info.software,
    relu: epilogue?.op.asEpilogue === 'relu',
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
  if (epilogue) {
    epilogue.pending = false;
    for (const t of epilogue.inputs) {
      t.storage.readers--;
      maybeFree(t.storage);
    }
    maybeFree(epilogue.outputs[0].storage);
  }
  return dispatches;
}

interface PendingRead {
  tensor: Tensor;
  resolve(values: Float32Array | Int32Array): void;
  reject(error: unknown): void;
}

/** Reads requested since the last flush: their copies ride along in the next submit. */
let reads: PendingRead[] = [];

async function finishRead(
  runtime: GpuRuntime,
  read: PendingRead,
  staging: GPUBuffer,
  verdict: Promise<GpuError | null>,
) {
  try {
    const error = await verdict;
    if (error) throw error;
    await staging.mapAsync(GPUMapMode.READ);
    const bytes = staging.getMappedRange().slice(0, read.tensor.size * 4);
    staging.unmap();
    runtime.counters.readbacks++;
    read.resolve(read.tensor.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes));
  } catch (e) {
    read.reject(e);
  } finally {
    staging.destroy();
  }
}

/** Encodes and submits everything pending plus the requested reads; returns the device's verdict. */
function run(): Promise<GpuError | null> {
  const runtime = requireRuntime('flush');
  runtime.throwPending();
  const nodes = prune(state.pending);
  state.pending = [];
  const now = reads;
  reads = [];
  // All uploads go before any buffer changes hands: queued writes land ahead of the whole submit.
  for (const n of nodes) for (const t of n.inputs) upload(runtime, t.storage);
  for (const r of now) upload(runtime, r.tensor.storage);
  const fused = runtime.fusion ? fuseEpilogues(nodes) : new Map<Node, Node>();
  const folded = new Set(fused.values());
  const dispatches: Dispatch[] = [];
  for (const n of nodes) if (!folded.has(n)) dispatches.push(...planNode(runtime, n, fused.get(n)));
  const staging = now.map((r) =>
    runtime.device.createBuffer({
      size: r.tensor.storage.bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    }),
  );
  const copies = now.map((r, i) => ({
    from: r.tensor.storage.buffer!,
    to: staging[i],
    bytes: r.tensor.storage.bytes,
  }));
  const verdict = runtime.submit(dispatches, copies);
  now.forEach((r, i) => {
    // The copy is encoded: the storage may go once no tensor holds it.
    r.tensor.storage.readers--;
    maybeFree(r.tensor.storage);
    void finishRead(runtime, r, staging[i], verdict);
  });
  return verdict;
}

/** Encodes and submits everything pending without waiting for the GPU; errors surface at the next flush. */
export function flush(): void {
  const runtime = requireRuntime('flush');
  void run().then((e) => {
    if (e) runtime.deferredError ??= e;
  });
}

/**
 * Asks for `t`'s values without submitting: the copy rides along in the next flush (an optimizer step, say),
 * so reading a loss costs no extra submit. The promise settles once that flush's work is done.
 */
export function readOnFlush(t: Tensor): Promise<Float32Array | Int32Array> {
  requireRuntime('readOnFlush');
  if (!t.storage.buffer && !t.storage.upload && !t.node) {
    return Promise.reject(new GpuError(`data: tensor ${t.toString()} has no values`));
  }
  t.storage.readers++;
  return new Promise((resolve, reject) => reads.push({ tensor: t, resolve, reject }));
}

/** Flushes with a copy of `t` to a staging buffer in the same submit, then maps and reads it. */
export async function readback(t: Tensor): Promise<Float32Array | Int32Array> {
  const values = readOnFlush(t);
  await run();
  return values;
}
