// Fusion pass 'concatStore': the producers of a channel concat's inputs store their values straight into their slice
// of the concat output (ops/epilogue.ts StoreSlice), and the concat copies only what they could not store.
import { concatOp, type ConcatAttrs } from '../../ops/concat.js';
import type { StoreSlice } from '../../ops/epilogue.js';
import { splitLimits } from '../../ops/split.js';
import { sizeOf } from '../../ops/types.js';
import { state, type Node, type Storage } from '../state.js';
import type { Tensor } from '../tensor.js';
import { indexFlush } from './flush_index.js';

/** Where a value is stored instead of a buffer of its own: a channel slice of `target`'s buffer. */
export interface SliceStore extends StoreSlice {
  target: Storage;
  /** The concat output (checked whole for NaN after `last`, when debug.checkFinite is on). */
  whole: Tensor;
  /** The kernel storing the last slice of a concat that no copy finishes. */
  last: boolean;
}

export interface ConcatStoreResult {
  nodes: Node[];
  /** Per value stored in a slice (the concat input's storage), where. */
  slices: Map<Storage, SliceStore>;
  /** Per concat that lost inputs, its id then the ids of the kernels storing them. */
  stores: number[][];
}

/**
 * For each concat along the last axis, the inputs that a kernel of this flush can store in place: made by an op
 * with OpDef.storesSlice (directly, or as the last follower of its epilogue chain in `fused`), as that kernel's
 * very output 0 tensor (not a view), float32, read by this concat alone, held by no tensor and not overwritten in
 * place; its channels, its offset and the concat's channels multiples of 4 (every vec4 store variant can then
 * store it); and every buffer the kernel binds within one storage binding (no batch split). Such a kernel stores
 * its values into the concat output's slice; the concat is dropped when all its inputs are stored so, or else
 * replaced by one copying the rest (`attrs.at`). `retire` ends the replaced concats.
 */
export function fuseConcatStores(
  nodes: readonly Node[],
  fused: ReadonlyMap<Node, Node[]>,
  limits: Readonly<Record<string, number>>,
  retire: (n: Node) => void,
): ConcatStoreResult {
  const { index, producer, readers, writtenAt } = indexFlush(nodes);
  const owner = new Map<Node, Node>();
  for (const [p, chain] of fused) if (chain.length > 0) owner.set(chain[chain.length - 1], p);
  const folded = new Set([...fused.values()].flat());
  const maxBytes = splitLimits(limits).bytes;
  const slices = new Map<Storage, SliceStore>();
  const stores: number[][] = [];
  const replaced = new Map<Node, Node | null>();
  for (const c of nodes) {
    if (c.op !== concatOp) continue;
    const out = c.outputs[0];
    const axis = (c.attrs as ConcatAttrs).axis;
    if (axis !== out.shape.length - 1 || (c.attrs as ConcatAttrs).at || out.storage.bytes > maxBytes)
      continue;
    const total = out.shape[axis];
    const rest: Tensor[] = [];
    const at: number[] = [];
    const kernels: Node[] = [];
    let offset = 0;
    for (const t of c.inputs) {
      const channels = t.shape[axis];
      const k = storingKernel(t, c);
      if (k && channels % 4 === 0 && offset % 4 === 0 && total % 4 === 0) {
        slices.set(t.storage, { target: out.storage, whole: out, last: false, channels, offset, total });
        kernels.push(k);
      } else {
        rest.push(t);
        at.push(offset);
      }
      offset += channels;
    }
    if (kernels.length === 0) continue;
    stores.push([c.id, ...kernels.map((k) => k.id)]);
    if (rest.length === 0) {
      // No copy finishes the concat: its last storing kernel does.
      const lastKernel = kernels.reduce((a, b) => (index.get(a)! > index.get(b)! ? a : b));
      const t = c.inputs.find((x) => slices.has(x.storage) && storingKernel(x, c) === lastKernel)!;
      slices.get(t.storage)!.last = true;
      replaced.set(c, null);
      continue;
    }
    for (const t of rest) t.storage.readers++;
    replaced.set(c, {
      id: state.nextId++,
      op: concatOp,
      attrs: { axis, at },
      inputs: rest,
      outputs: [out],
      writes: [],
      pending: true,
    });
  }

  /** The kernel that can store `t` (an input of concat `c`) in its slice, or null. */
  function storingKernel(t: Tensor, c: Node): Node | null {
    const n = producer.get(t.storage);
    if (!n || n.outputs[0] !== t || t.dtype !== 'float32') return null;
    if (t.storage.refs !== 0 || t.storage.readers !== 1 || readers.get(t.storage)?.length !== 1) return null;
    if (readers.get(t.storage)![0] !== c || writtenAt.has(t.storage)) return null;
    const k = owner.get(n) ?? n;
    if (folded.has(k) || (k === n && (fused.get(k)?.length ?? 0) > 0) || !k.op.storesSlice) return null;
    if (k.inputs.some((x) => x.storage.bytes > maxBytes) || sizeOf(t.shape) * 4 > maxBytes) return null;
    return k;
  }

  if (replaced.size === 0) return { nodes: [...nodes], slices, stores };
  const order: Node[] = [];
  for (const n of nodes) {
    const r = replaced.get(n);
    if (r === undefined) order.push(n);
    else if (r) order.push(r);
  }
  // After the replacements took their readers, so no input of theirs is freed on the way.
  for (const n of replaced.keys()) retire(n);
  return { nodes: order, slices, stores };
}
