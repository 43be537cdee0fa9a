// The fusion pipeline: the switched-on passes run in order over a flush's pruned nodes (foldBatchNorm → reluMask →
// epilogue, whose first step runs gradient sums in the store of a conv backprop-input kernel → elementwise).
import type { GpuRuntime } from '../../gpu/runtime.js';
import { MAX_INPUTS } from '../../ops/elementwise/codegen.js';
import type { Node } from '../state.js';
import { fuseElementwise } from './elementwise.js';
import { fuseEpilogues } from './epilogue.js';
import { foldBatchNorm } from './fold_bn.js';
import { fuseReluMasks } from './relu_mask.js';
import { fuseStoreSums } from './store_sum.js';

/** What the fusion passes made of a flush. */
export interface PassResults {
  /** Followers run in each producer's store (epilogue pass). */
  fused: ReadonlyMap<Node, Node[]>;
  /** The original nodes each node a pass made stands for (foldBatchNorm, reluMask, elementwise). */
  covers: ReadonlyMap<Node, Node[]>;
  /** [conv id, batch norm id] of each fold. */
  folds: readonly number[][];
  /** The node ids of each elementwise chain fused into one kernel. */
  chains: readonly number[][];
  /** Each reluBackward's id, then the ids of the kernels that apply its mask. */
  masks: readonly number[][];
  /** Each concat's id, then the ids of the kernels storing inputs of it in place (concatStore, run after these). */
  stores?: readonly number[][];
}

/**
 * Runs `runtime`'s switched-on passes over `nodes` (pruned, in record order) and returns the nodes to plan with
 * what the passes made. `retire` ends each node a pass replaced, after its replacement took its readers.
 */
export function runFusionPasses(
  nodes: readonly Node[],
  runtime: GpuRuntime,
  retire: (n: Node) => void,
): { nodes: readonly Node[]; passes: PassResults } {
  const passes: PassResults = { fused: new Map(), covers: new Map(), folds: [], chains: [], masks: [] };
  if (runtime.fusion.foldBatchNorm) {
    const folding = foldBatchNorm(nodes, runtime, retire);
    nodes = folding.nodes;
    Object.assign(passes, { covers: folding.covers, folds: folding.folds });
  }
  const bindings = runtime.info.limits.maxStorageBuffersPerShaderStage ?? 8;
  if (runtime.fusion.reluMask) {
    const masked = fuseReluMasks(nodes, bindings, runtime.fusion.elementwise, retire);
    nodes = masked.nodes;
    Object.assign(passes, { covers: new Map([...passes.covers, ...masked.covers]), masks: masked.masks });
  }
  if (runtime.fusion.epilogue) {
    // Gradient sums into the conv backprop-input kernel computing a term: a kernel of its own, no followers.
    const summed = fuseStoreSums(nodes, bindings, passes.covers, retire);
    nodes = summed.nodes;
    const fused = fuseEpilogues(nodes, bindings);
    for (const n of summed.made) fused.set(n, []);
    Object.assign(passes, { fused, covers: summed.covers });
  }
  if (runtime.fusion.elementwise) {
    // Elementwise chains are this pass's (an elementwise producer's epilogue is one too); the followers run in
    // another kernel's store stay there.
    const fused = new Map([...passes.fused].filter(([p]) => !p.op.expr));
    const chained = fuseElementwise(
      nodes,
      new Set([...fused.values()].flat()),
      Math.min(MAX_INPUTS, bindings - 1),
      retire,
    );
    nodes = chained.nodes;
    Object.assign(passes, {
      fused,
      covers: new Map([...passes.covers, ...chained.covers]),
      chains: chained.chains,
    });
  }
  return { nodes, passes };
}
