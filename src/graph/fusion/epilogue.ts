// Fusion pass 'epilogue': batch-norm apply, a residual add and ReLU run in the store of the kernel producing their input.
import { EPILOGUE_KINDS, type Epilogue, type EpilogueKind } from '../../ops/epilogue.js';
import type { Node, Storage } from '../state.js';

/** The one other input of a same-shape add that reads `s` (the residual), or null when the add is not one. */
function residualOf(add: Node, s: Storage): Node['inputs'][number] | null {
  if (add.inputs.length !== 2) return null;
  const [a, b] = add.inputs;
  const r = a.storage === s ? b : b.storage === s ? a : null;
  const out = add.outputs[0].shape;
  if (!r || r.storage === s || r.dtype !== 'float32' || r.shape.length !== out.length) return null;
  return r.shape.every((d, i) => d === out[i]) ? r : null;
}

/** The inputs a follower brings into the producer's kernel (statistics, the residual). */
function extraInputs(e: Node, kind: EpilogueKind, s: Storage): Node['inputs'] | null {
  if (kind === 'relu') return e.inputs.length === 1 && e.inputs[0].storage === s ? [] : null;
  if (kind === 'bn') return e.inputs[0].storage === s ? e.inputs.slice(1) : null;
  const r = residualOf(e, s);
  return r ? [r] : null;
}

/**
 * For each producer that offers epilogues (conv2d, matmul, dense, batch norm, add), the longest chain of
 * following nodes it can run in its store: each follower is an op that can run as an epilogue of a kind the
 * producer offers, later in EPILOGUE_KINDS order than the one before it (batch-norm apply, add, ReLU), and the
 * only reader of the value before it, which no tensor holds. The values a follower brings in (statistics, the
 * residual) must be computed before the producer runs and not overwritten in place between the producer and
 * the follower, and the kernel must stay within `maxBindings` storage buffers. Returns the followers by producer.
 */
export function fuseEpilogues(nodes: readonly Node[], maxBindings: number): Map<Node, Node[]> {
  const fused = new Map<Node, Node[]>();
  const claimed = new Set<Node>();
  const index = new Map<Node, number>();
  // Where each value of this flush is computed, as far as planned: a follower's output moves to its producer.
  const plannedAt = new Map<Storage, number>();
  const readers = new Map<Storage, Node[]>();
  const writtenAt = new Map<Storage, number[]>();
  nodes.forEach((n, i) => {
    index.set(n, i);
    for (const t of n.outputs) plannedAt.set(t.storage, i);
    for (const t of n.inputs) {
      const list = readers.get(t.storage);
      if (list) list.push(n);
      else readers.set(t.storage, [n]);
    }
    for (const s of n.writes) {
      const list = writtenAt.get(s);
      if (list) list.push(i);
      else writtenAt.set(s, [i]);
    }
  });
  nodes.forEach((p, at) => {
    const offers = p.op.epilogues;
    if (!offers || claimed.has(p) || p.outputs.length === 0 || p.outputs[0].dtype !== 'float32') return;
    const chain: Node[] = [];
    let bindings = p.inputs.length + p.outputs.length;
    let s = p.outputs[0].storage;
    let last = -1;
    for (;;) {
      const next = readers.get(s);
      if (s.refs !== 0 || s.readers !== 1 || next?.length !== 1) break;
      const e = next[0];
      const kind = e.op.asEpilogue;
      if (!kind || !offers.includes(kind) || EPILOGUE_KINDS.indexOf(kind) <= last) break;
      if (e.outputs.length !== 1) break;
      const extra = extraInputs(e, kind, s);
      if (!extra || bindings + extra.length > maxBindings) break;
      const until = index.get(e)!;
      const ready = extra.every((t) => {
        const made = plannedAt.get(t.storage);
        const overwritten = writtenAt.get(t.storage)?.some((w) => w > at && w < until);
        return (made === undefined || made < at) && !overwritten;
      });
      if (!ready) break;
      chain.push(e);
      claimed.add(e);
      bindings += extra.length;
      last = EPILOGUE_KINDS.indexOf(kind);
      s = e.outputs[0].storage;
    }
    if (chain.length > 0) {
      fused.set(p, chain);
      plannedAt.set(s, at);
    }
  });
  return fused;
}

/** The epilogue a producer's kernel applies for `chain` (its fused followers, in order). */
export function chainEpilogue(p: Node, chain: readonly Node[]): Epilogue {
  const e: Epilogue = { bn: null, residual: null, relu: false };
  if (chain.length === 0) return e;
  let s = p.outputs[0].storage;
  for (const n of chain) {
    const kind = n.op.asEpilogue!;
    if (kind === 'relu') e.relu = true;
    else if (kind === 'bn') {
      const [gamma, beta, mean, variance] = n.inputs.slice(1).map((t) => t.storage.buffer!);
      e.bn = { gamma, beta, mean, variance, epsilon: (n.attrs as { epsilon: number }).epsilon };
    } else e.residual = residualOf(n, s)!.storage.buffer!;
    s = n.outputs[0].storage;
  }
  return e;
}
