// Fusion pass 'reluMask': a reluBackward applied inside the kernels that read its result (OpDef.masksInput).
import { reluBackwardOp } from '../../ops/relu.js';
import { state, type Node } from '../state.js';
import { indexFlush, sameShape } from './flush_index.js';
import type { Tensor } from '../tensor.js';

/** What the pass made of a flush: the new node order and, per node it made, the original nodes it stands for. */
export interface MaskResult {
  nodes: Node[];
  covers: Map<Node, Node[]>;
  /** Each fusion: the reluBackward's id, then the ids of the kernels that now apply its mask. */
  masks: number[][];
}

/**
 * Removes each reluBackward(dy, y) whose result g every reader takes as its masked input (conv backprop to input
 * and filter, batch-norm backward: OpDef.masksInput), once, with g's shape: each reader becomes a copy of itself
 * that reads dy and y and applies the mask on its load (`attrs.reluMask`, y appended as its last input). It
 * stays when a tensor holds g or anything else reads it, when a reader's kernel would exceed `maxBindings` storage
 * buffers, when a node between overwrites dy or y in place, and, with `preferChains`, when dy is computed by an
 * elementwise node that only the reluBackward reads (a gradient sum at fan-in): the elementwise pass then runs
 * that sum and the mask as one kernel, which moves fewer bytes than both readers loading two tensors.
 * `retire` ends the nodes replaced.
 */
export function fuseReluMasks(
  nodes: readonly Node[],
  maxBindings: number,
  preferChains: boolean,
  retire: (n: Node) => void,
): MaskResult {
  const { index, producer, readers, writtenAt } = indexFlush(nodes);
  const replaced = new Map<Node, Node>();
  const dropped = new Set<Node>();
  const covers = new Map<Node, Node[]>();
  const masks: number[][] = [];
  for (const r of nodes) {
    if (r.op !== reluBackwardOp) continue;
    const g = r.outputs[0];
    const [dy, y] = r.inputs as [Tensor, Tensor];
    const list = readers.get(g.storage) ?? [];
    if (g.storage.refs !== 0 || list.length === 0 || g.storage.readers !== list.length) continue;
    if (!sameShape(dy.shape, g.shape) || !sameShape(y.shape, g.shape)) continue;
    const from = producer.get(dy.storage);
    if (preferChains && from?.op.expr && dy.storage.refs === 0 && dy.storage.readers === 1) continue;
    const at = index.get(r)!;
    const takes = (n: Node) => {
      const m = n.op.masksInput;
      if (m === undefined || replaced.has(n) || (n.attrs as { reluMask?: boolean }).reluMask) return false;
      if (n.inputs.filter((t) => t.storage === g.storage).length !== 1) return false;
      if (n.inputs[m]?.storage !== g.storage || !sameShape(n.inputs[m].shape, g.shape)) return false;
      if (n.inputs.length + n.outputs.length + 1 > maxBindings) return false;
      const until = index.get(n)!;
      return ![dy, y].some((t) => writtenAt.get(t.storage)?.some((w) => w > at && w < until));
    };
    if (!list.every(takes)) continue;
    for (const n of list) {
      const inputs = n.inputs.map((t) => (t.storage === g.storage ? dy : t));
      inputs.push(y);
      for (const t of inputs) t.storage.readers++;
      const masked: Node = {
        id: state.nextId++,
        op: n.op,
        attrs: { ...(n.attrs as object), reluMask: true },
        inputs,
        outputs: n.outputs,
        writes: n.writes,
        pending: true,
      };
      replaced.set(n, masked);
      covers.set(masked, [r, n]);
    }
    dropped.add(r);
    masks.push([r.id, ...list.map((n) => n.id)]);
  }
  if (dropped.size === 0) return { nodes: [...nodes], covers, masks };
  const out: Node[] = [];
  for (const n of nodes) {
    if (dropped.has(n)) continue;
    out.push(replaced.get(n) ?? n);
  }
  // After the new nodes took their readers, so no input of theirs is freed on the way.
  for (const n of replaced.keys()) retire(n);
  for (const n of dropped) retire(n);
  return { nodes: out, covers, masks };
}
