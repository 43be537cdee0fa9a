// A flush's plan as a value: every kernel in order with the nodes it covers, its cost, and the memory plan.
import { dispatchCode, type Dispatch } from '../gpu/runtime.js';
import type { Node } from './state.js';

/** One graph node a kernel covers. */
export interface PlanNode {
  id: number;
  op: string;
  /** Output shapes. */
  shapes: number[][];
}

/** One dispatch of the plan. */
export interface PlanKernel {
  /** Position in the flush (0-based). */
  index: number;
  shader: string;
  /** The pipeline variant: override constants and substituted regions, `''` for the plain shader. */
  variant: string;
  workgroups: number;
  /** The nodes this kernel computes: more than one when a fusion pass folded nodes together. */
  nodes: PlanNode[];
  /**
   * FLOPs of the covered nodes (their ops' `cost`). A node planned as several dispatches (statistics, then
   * apply) puts its FLOPs on the dispatch with the most workgroups, 0 on the others.
   */
  flops: number;
  /**
   * Bytes of the buffers the shader binds read-only, and of those it binds read-write (its outputs; an in-place
   * update counts as written only), each distinct buffer once, at the size its tensor or scratch asked for.
   */
  bytesRead: number;
  bytesWritten: number;
  /** Storage buffers bound. */
  buffers: number;
  /** The WGSL the pipeline compiles (present when asked for). */
  wgsl?: string;
}

/** A fusion a pass made: `nodes` now run as one kernel group. */
export interface PlanFusion {
  pass: string;
  nodes: number[];
}

/** The memory plan of a flush, from the buffer pool's point of view. */
export interface PlanMemory {
  /** The most device bytes live at once while the flush was planned (tensors held outside it included). */
  peakBytes: number;
  /** Live bytes when planning began: what the flush found resident. */
  startBytes: number;
  /** Buffers handed out to outputs and scratch. */
  acquired: number;
  /** Of those, how many came back from the pool (reused) rather than being created. */
  reused: number;
  /** Bytes of new buffers created by this flush. */
  createdBytes: number;
}

export interface Plan {
  kernels: PlanKernel[];
  /** Nodes planned (after pruning), folded ones included. */
  nodes: number;
  /** Nodes dropped because nothing reads or holds their outputs. */
  pruned: number;
  fusions: PlanFusion[];
  dispatches: number;
  flops: number;
  bytesRead: number;
  bytesWritten: number;
  /** The fusion passes that were on. */
  passes: string[];
  memory: PlanMemory;
  /** Peak bytes (same as memory.peakBytes; the name for it). */
  peakBytes: number;
}

/** What the scheduler hands over for each dispatch: the nodes it covers (empty for a check kernel). */
export interface PlannedDispatch {
  dispatch: Dispatch;
  nodes: readonly Node[];
}

/** Access of each binding (1, 2, ...) of a shader: true where read-only. Cached per shader and regions. */
const accessCache = new Map<string, boolean[]>();

function bindingAccess(d: Dispatch): boolean[] {
  const key = `${d.shader}|${d.code ?? ''}|${JSON.stringify(d.regions ?? {})}`;
  let access = accessCache.get(key);
  if (!access) {
    access = [];
    const code = dispatchCode(d);
    const re = /@binding\((\d+)\)\s*var<storage\s*,\s*(read_write|read)\s*>/g;
    for (let m = re.exec(code); m; m = re.exec(code)) access[Number(m[1]) - 1] = m[2] === 'read';
    accessCache.set(key, access);
  }
  return access;
}

/** The variant label of a dispatch: its constants, then the names of substituted regions. */
export function variantOf(d: Pick<Dispatch, 'constants' | 'regions'>): string {
  const parts = Object.entries(d.constants ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const k of Object.keys(d.regions ?? {})) parts.push(`+${k}`);
  return parts.join(',');
}

function describeNode(n: Node): PlanNode {
  return { id: n.id, op: n.op.name, shapes: n.outputs.map((t) => [...t.shape]) };
}

/** FLOPs of a node, from its op's cost rule. */
function nodeFlops(n: Node): number {
  return n.op.cost(
    n.inputs.map((t) => ({ shape: t.shape, dtype: t.dtype })),
    n.attrs,
  ).flops;
}

/**
 * Builds the plan value. `logicalBytes` gives the size the planner asked for per buffer (pooled buffers are
 * rounded up to buckets); a buffer it does not know counts at its real size. `wgsl` includes the shader text.
 */
export function describePlan(
  planned: readonly PlannedDispatch[],
  extra: { nodes: number; pruned: number; fusions: PlanFusion[]; passes: string[]; memory: PlanMemory },
  logicalBytes: (b: GPUBuffer) => number,
  wgsl: boolean,
): Plan {
  // The dispatch with most workgroups of each node carries its FLOPs.
  const carrier = new Map<Node, number>();
  planned.forEach((p, i) => {
    const n = p.nodes[0];
    if (!n) return;
    const best = carrier.get(n);
    if (best === undefined || planned[best].dispatch.workgroups < p.dispatch.workgroups) carrier.set(n, i);
  });
  const kernels = planned.map((p, index): PlanKernel => {
    const d = p.dispatch;
    const access = bindingAccess(d);
    let bytesRead = 0;
    let bytesWritten = 0;
    // A buffer bound twice (a placeholder for an absent bias) moves its bytes once.
    const seen = new Set<GPUBuffer>();
    d.buffers.forEach((b, i) => {
      if (seen.has(b)) return;
      seen.add(b);
      // A window of a tensor larger than one binding (ops/split.ts) moves only its own bytes.
      const bytes = d.ranges?.[i]?.size ?? logicalBytes(b);
      if (access[i] === false) bytesWritten += bytes;
      else bytesRead += bytes;
    });
    const flops = p.nodes[0] && carrier.get(p.nodes[0]) === index ? sumFlops(p.nodes) : 0;
    const kernel: PlanKernel = {
      index,
      shader: d.shader,
      variant: variantOf(d),
      workgroups: d.workgroups,
      nodes: p.nodes.map(describeNode),
      flops,
      bytesRead,
      bytesWritten,
      buffers: d.buffers.length,
    };
    if (wgsl) kernel.wgsl = dispatchCode(d);
    return kernel;
  });
  const total = (f: (k: PlanKernel) => number) => kernels.reduce((s, k) => s + f(k), 0);
  return {
    kernels,
    nodes: extra.nodes,
    pruned: extra.pruned,
    fusions: extra.fusions,
    dispatches: kernels.length,
    flops: total((k) => k.flops),
    bytesRead: total((k) => k.bytesRead),
    bytesWritten: total((k) => k.bytesWritten),
    passes: extra.passes,
    memory: extra.memory,
    peakBytes: extra.memory.peakBytes,
  };
}

function sumFlops(nodes: readonly Node[]): number {
  return nodes.reduce((s, n) => s + nodeFlops(n), 0);
}
