// Fusion pass 'elementwise': a chain (a tree) of elementwise nodes becomes one generated kernel, one `elementwise` node.
import { input, mapInputs, type Expr } from '../../ops/elementwise/expr.js';
import { elementwiseOp } from '../../ops/elementwise/op.js';
import { state, type Node, type Storage } from '../state.js';
import type { Tensor } from '../tensor.js';

/** What the pass made of a flush: the new node order and, per fused node, the original nodes it stands for. */
export interface ElementwiseResult {
  nodes: Node[];
  covers: Map<Node, Node[]>;
  /** The node ids of each fused chain, in record order. */
  chains: number[][];
}

/** A tree being grown: its expression over `inputs`, the nodes it covers, where its first node was recorded. */
interface Group {
  expr: Expr;
  inputs: Tensor[];
  covers: Node[];
  /** The node whose output the tree computes. */
  root: Node;
  first: number;
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Index of the input reading the same storage with the same shape (the same values), or -1. */
const indexOf = (list: readonly Tensor[], t: Tensor) =>
  list.findIndex((u) => u.storage === t.storage && sameShape(u.shape, t.shape));

/** The tensors with repeats (same storage and shape) removed, first seen first. */
function distinct(list: readonly Tensor[]): Tensor[] {
  const out: Tensor[] = [];
  for (const t of list) if (indexOf(out, t) < 0) out.push(t);
  return out;
}

function eligible(n: Node, claimed: ReadonlySet<Node>): boolean {
  return (
    n.op.expr !== undefined &&
    !claimed.has(n) &&
    n.writes.length === 0 &&
    n.outputs.length === 1 &&
    n.outputs[0].dtype === 'float32'
  );
}

/**
 * Fuses each elementwise node (OpDef.expr: add, sub, mul, div, scale, relu, the unary and comparison ops, where,
 * reluBackward, a generated gradient) with the elementwise producers of its inputs, recursively, into one node of
 * the generic `elementwise` op whose tree is the composition of theirs. A producer is absorbed when its output is
 * read by this node alone and held by no tensor (a `tidy` step), has this node's output shape (broadcasting a
 * value computed in the chain would compute it once per output element: such a value stays a kernel), no node in
 * between overwrites one of its inputs in place, and the kernel stays within `maxInputs` distinct inputs (the
 * same tensor read twice binds once). Nodes in `claimed` (run in another kernel's store by the epilogue pass) are
 * left alone. `retire` ends the nodes replaced.
 */
export function fuseElementwise(
  nodes: readonly Node[],
  claimed: ReadonlySet<Node>,
  maxInputs: number,
  retire: (n: Node) => void,
): ElementwiseResult {
  const producer = new Map<Storage, Node>();
  const writtenAt = new Map<Storage, number[]>();
  nodes.forEach((n, i) => {
    for (const s of n.writes) writtenAt.set(s, [...(writtenAt.get(s) ?? []), i]);
  });
  const groups = new Map<Node, Group>();
  const absorbed = new Set<Node>();
  nodes.forEach((n, at) => {
    for (const t of n.outputs) producer.set(t.storage, n);
    if (!eligible(n, claimed)) return;
    const shape = n.outputs[0].shape;
    /** The group producing input t, when it can run inside n. */
    const inlinable = (t: Tensor): Group | null => {
      const p = producer.get(t.storage);
      const g = p && groups.get(p);
      if (!p || !g || absorbed.has(p) || t.storage.refs !== 0) return null;
      const reads = n.inputs.filter((u) => u.storage === t.storage);
      if (t.storage.readers !== reads.length || !reads.every((u) => sameShape(u.shape, shape))) return null;
      if (!sameShape(p.outputs[0].shape, shape)) return null;
      const overwritten = g.inputs.some((u) => writtenAt.get(u.storage)?.some((w) => w > g.first && w < at));
      return overwritten ? null : g;
    };
    // Inline greedily, input by input, while the distinct inputs fit.
    const inlined = n.inputs.map((): Group | null => null);
    const gathered = () => distinct(n.inputs.flatMap((t, k) => inlined[k]?.inputs ?? [t]));
    n.inputs.forEach((t, k) => {
      const g = inlined[k] ? null : inlinable(t);
      if (!g) return;
      const reads = n.inputs.map((u, j) => (u.storage === t.storage ? j : -1)).filter((j) => j >= 0);
      for (const j of reads) inlined[j] = g;
      if (gathered().length > maxInputs) for (const j of reads) inlined[j] = null;
    });
    if (inlined.every((g) => g === null)) {
      const expr = n.op.expr!(n.attrs, n.inputs.length);
      groups.set(n, { expr, inputs: [...n.inputs], covers: [n], root: n, first: at });
      return;
    }
    const order = gathered();
    const args = n.inputs.map((t, k): Expr => {
      const g = inlined[k];
      if (!g) return input(indexOf(order, t));
      return mapInputs(g.expr, (j) => input(indexOf(order, g.inputs[j])));
    });
    const own = n.op.expr!(n.attrs, n.inputs.length);
    const covers: Node[] = [];
    let first = at;
    for (const g of new Set(inlined)) {
      if (!g) continue;
      covers.push(...g.covers);
      first = Math.min(first, g.first);
      absorbed.add(g.root);
    }
    covers.push(n);
    covers.sort((a, b) => a.id - b.id);
    groups.set(n, { expr: mapInputs(own, (k) => args[k]), inputs: order, covers, root: n, first });
  });
  const covers = new Map<Node, Node[]>();
  const chains: number[][] = [];
  const replaced = new Map<Node, Node>();
  for (const [root, g] of groups) {
    if (absorbed.has(root) || g.covers.length < 2) continue;
    for (const t of g.inputs) t.storage.readers++;
    const fused: Node = {
      id: state.nextId++,
      op: elementwiseOp,
      attrs: { expr: g.expr },
      inputs: g.inputs,
      outputs: [root.outputs[0]],
      writes: [],
      pending: true,
    };
    replaced.set(root, fused);
    covers.set(fused, g.covers);
    chains.push(g.covers.map((m) => m.id));
  }
  if (replaced.size === 0) return { nodes: [...nodes], covers, chains };
  const out: Node[] = [];
  for (const n of nodes) {
    const r = replaced.get(n);
    if (r) out.push(r);
    else if (!absorbed.has(n)) out.push(n);
  }
  // After the fused nodes took their readers, so no input of theirs is freed on the way.
  for (const m of [...covers.values()].flat()) retire(m);
  return { nodes: out, covers, chains };
}
