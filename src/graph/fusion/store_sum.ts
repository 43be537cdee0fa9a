// Fusion step of the 'epilogue' pass: a gradient sum at fan-in (and the reluBackward after it) run in the store of
// the conv2dBackpropInput kernel that computes one of its terms (attrs.storeSum, ops/store_sum.ts).
import { addOp } from '../../ops/arithmetic.js';
import { reluBackwardOp } from '../../ops/relu.js';
import type { SumTree } from '../../ops/store_sum.js';
import { state, type Node } from '../state.js';
import { indexFlush, sameShape } from './flush_index.js';
import type { Tensor } from '../tensor.js';

/** What the step made of a flush: the new node order and, per node it made, the original nodes it stands for. */
export interface StoreSumResult {
  nodes: Node[];
  covers: Map<Node, Node[]>;
  /** The kernels it made (each stores a sum). */
  made: Node[];
}

/** A value only its one reader uses: no tensor holds it and no other node reads it. */
const privateValue = (t: Tensor) => t.storage.refs === 0 && t.storage.readers === 1;

/**
 * For each root, latest first (a reluBackward(dy, y) whose dy is a sum, or a sum itself), the tree of same-shape
 * float32 adds below it whose intermediate values only the next add reads and no tensor holds. When one leaf is
 * the output of a kernel that can store a sum (OpDef.storesSum: conv2dBackpropInput) and only that add reads
 * it, and every other leaf and the mask y are computed before that kernel and not overwritten in place before
 * the root, the kernel becomes a copy of itself that reads the other leaves (and y) and stores the root's value
 * into the root's output (`attrs.storeSum`). A kernel whose inputs would then exceed `maxBindings` storage
 * buffers, or that already stores a sum, is left alone. `covers` starts as the earlier passes' (a masked kernel
 * stands for its reluBackward too). `retire` ends the nodes replaced.
 */
export function fuseStoreSums(
  nodes: readonly Node[],
  maxBindings: number,
  covers: ReadonlyMap<Node, Node[]>,
  retire: (n: Node) => void,
): StoreSumResult {
  const { index, producer, writtenAt } = indexFlush(nodes);
  const claimed = new Set<Node>();
  const replaced = new Map<Node, Node>();
  const dropped = new Set<Node>();
  const made = new Map<Node, Node[]>();
  const isSum = (n: Node | undefined, shape: readonly number[]): n is Node =>
    n !== undefined &&
    n.op === addOp &&
    n.inputs.length === 2 &&
    !claimed.has(n) &&
    n.outputs[0].dtype === 'float32' &&
    n.inputs.every((t) => t.dtype === 'float32' && sameShape(t.shape, shape));
  for (let at = nodes.length - 1; at >= 0; at--) {
    const root = nodes[at];
    if (claimed.has(root)) continue;
    const out = root.outputs[0];
    const masked = root.op === reluBackwardOp;
    if (!masked && root.op !== addOp) continue;
    const [dy, y] = root.inputs as [Tensor, Tensor | undefined];
    if (
      masked &&
      (!sameShape(dy.shape, out.shape) || !sameShape(y!.shape, out.shape) || y!.dtype !== 'float32')
    )
      continue;
    if (!masked && !isSum(root, out.shape)) continue;
    // The adds of the tree and its leaves, left to right.
    const adds: Node[] = [];
    const leaves: Tensor[] = [];
    const grow = (t: Tensor, top: boolean): SumTree => {
      const a = top && !masked ? root : producer.get(t.storage);
      if ((top && !masked) || (privateValue(t) && isSum(a, out.shape))) {
        adds.push(a!);
        return [grow(a!.inputs[0], false), grow(a!.inputs[1], false)];
      }
      leaves.push(t);
      return leaves.length - 1;
    };
    const tree = grow(masked ? dy : out, true);
    // The kernel: the leaf computed last, made by an op that stores sums, whose value only the sum reads.
    const placed = leaves.map((t) => {
      const p = producer.get(t.storage);
      return p ? index.get(p)! : -1;
    });
    const last = placed.indexOf(Math.max(...placed));
    const p = producer.get(leaves[last].storage);
    if (!p || !p.op.storesSum || claimed.has(p) || p.outputs[0] !== leaves[last]) continue;
    if (!privateValue(leaves[last]) || (p.attrs as { storeSum?: unknown }).storeSum) continue;
    if (placed.some((i, k) => k !== last && i === placed[last])) continue;
    const terms = leaves.filter((_, k) => k !== last);
    const extra = masked ? [...terms, y!] : terms;
    const from = index.get(p)!;
    if (masked && (producer.has(y!.storage) ? index.get(producer.get(y!.storage)!)! : -1) >= from) continue;
    if (extra.some((t) => writtenAt.get(t.storage)?.some((w) => w > from && w < at))) continue;
    if (p.inputs.length + extra.length + 1 > maxBindings) continue;
    // Leaf numbers: the kernel's own value is 'acc', the others count up in leaf order.
    const renumber = (t: SumTree): SumTree =>
      typeof t === 'number'
        ? t === last
          ? 'acc'
          : t < last
            ? t
            : t - 1
        : t === 'acc'
          ? t
          : [renumber(t[0]), renumber(t[1])];
    const inputs = [...p.inputs, ...extra];
    for (const t of inputs) t.storage.readers++;
    const fused: Node = {
      id: state.nextId++,
      op: p.op,
      attrs: {
        ...(p.attrs as object),
        storeSum: { tree: renumber(tree), terms: terms.length, mask: masked },
      },
      inputs,
      outputs: [out],
      writes: p.writes,
      pending: true,
    };
    for (const n of [p, ...adds, root]) claimed.add(n);
    replaced.set(p, fused);
    for (const n of adds) dropped.add(n);
    if (masked) dropped.add(root);
    made.set(fused, [...(covers.get(p) ?? [p]), ...adds, ...(masked ? [root] : [])]);
  }
  const merged = new Map(covers);
  if (replaced.size === 0) return { nodes: [...nodes], covers: merged, made: [] };
  const order: Node[] = [];
  for (const n of nodes) {
    if (dropped.has(n)) continue;
    order.push(replaced.get(n) ?? n);
  }
  for (const [n, list] of made) merged.set(n, list);
  // After the new nodes took their readers, so no input of theirs is freed on the way.
  for (const n of replaced.keys()) retire(n);
  for (const n of dropped) retire(n);
  return { nodes: order, covers: merged, made: [...made.keys()] };
}
