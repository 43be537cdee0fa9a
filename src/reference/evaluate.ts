// Evaluates a recorded graph in float64 on the CPU with every op's reference: the oracle for whole networks.
import type { Node } from '../graph/state.js';
import type { Tensor } from '../graph/tensor.js';
import type { RefTensor } from '../ops/types.js';

/** Values for leaves: read from the device by the caller, or perturbed copies for finite differences. */
export type LeafValues = Map<Tensor, Float64Array>;

/** Every leaf that `outputs` depend on, found by walking the graph. */
export function leavesOf(outputs: readonly Tensor[]): Tensor[] {
  const leaves = new Set<Tensor>();
  const seen = new Set<Node>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (!t.node) {
      leaves.add(t);
      continue;
    }
    if (seen.has(t.node)) continue;
    seen.add(t.node);
    stack.push(...t.node.inputs);
  }
  return [...leaves];
}

/** Computes `outputs` from `leaves` with the float64 references, memoizing each node once. */
export function evaluateReference(outputs: readonly Tensor[], leaves: LeafValues): RefTensor[] {
  const memo = new Map<Node, RefTensor[]>();
  const valueOf = (t: Tensor): RefTensor => {
    if (!t.node) {
      const data = leaves.get(t);
      if (!data) throw new Error(`evaluateReference: no value given for leaf ${t.toString()}`);
      return { shape: t.shape, data };
    }
    const root = t.node;
    // Iterative post-order so deep graphs do not overflow the stack.
    const stack: Node[] = [root];
    while (stack.length > 0) {
      const n = stack[stack.length - 1];
      if (memo.has(n)) {
        stack.pop();
        continue;
      }
      const missing = n.inputs.filter((i) => i.node && !memo.has(i.node)).map((i) => i.node!);
      if (missing.length > 0) {
        stack.push(...missing);
        continue;
      }
      stack.pop();
      const inputs = n.inputs.map((i) => (i.node ? memo.get(i.node)![i.outputIndex] : valueOf(i)));
      memo.set(n, n.op.reference(inputs, n.attrs));
    }
    return memo.get(root)![t.outputIndex];
  };
  return outputs.map(valueOf);
}

/** Reads every leaf of `outputs` from the device as float64. */
export async function readLeaves(outputs: readonly Tensor[]): Promise<LeafValues> {
  const values: LeafValues = new Map();
  for (const leaf of leavesOf(outputs)) {
    const raw = leaf.dtype === 'int32' ? await leaf.int32Data() : await leaf.data();
    values.set(leaf, Float64Array.from(raw));
  }
  return values;
}
