// Pass replay: a flush whose pruned graph has the structure of an earlier one reuses what the fusion passes made of it.
import type { GpuRuntime } from '../gpu/runtime.js';
import { foldSources } from './fusion/fold_bn.js';
import { runFusionPasses, type PassResults } from './fusion/passes.js';
import { copyAttrs, sameAt, sameAttrsBut, type FlushEntries } from './replay.js';
import { state, type Node, type Storage } from './state.js';
import type { Tensor } from './tensor.js';

/** A node of a template: >= 0 the flush's node at that index, < 0 the template's made node number -(ref + 1). */
type NodeRef = number;

/**
 * Tensors as flat pairs (node index, slot): slot >= 0 is that node's input, slot < 0 its output -(slot + 1);
 * node index -1 is the template's foreign tensor number `slot` (a folded filter or bias, see `Foreign`).
 */
type TensorRefs = number[];

/** A node a pass made, with its tensors as references to the flush's nodes. */
interface MadeNode {
  op: Node['op'];
  /** The cache's own copy of the attributes the pass gave it (see copyAttrs). */
  attrs: unknown;
  /**
   * For an op with uniform-only attributes (OpDef.uniformAttrs): the flush node it copied them from (one it
   * replaces, of its op, with the same values), whose current values it takes when made again; -1 for none.
   */
  attrsFrom: number;
  inputs: TensorRefs;
  outputs: TensorRefs;
  /** Tensors whose storage it overwrites in place. */
  writes: TensorRefs;
}

/** A tensor from outside the flush's graph that a made node reads: a batch-norm fold kept by fold_bn.ts's cache. */
interface Foreign {
  tensor: Tensor;
  /** Tensors of the flush holding the fold's sources (filter, batch-norm tensors, bias), in foldSources order. */
  sources: TensorRefs;
}

/** What the passes made of one graph structure, as references into a flush's node list. */
export interface PassTemplate {
  /** The structure: ops, tensor sources and shapes, held and read flags, in-place writes (see `describe`). */
  readonly signature: Int32Array;
  /**
   * Per node, a copy of its attributes (compared as data, but for its op's uniform-only ones unless `exact`).
   */
  readonly attrs: readonly unknown[];
  /**
   * Per node, 1 where every attribute must equal the copy: a node with uniform-only attributes that a made node
   * stands for without copying them from it (a fold, a fused chain), so they may have shaped what was made.
   */
  readonly exact: Uint8Array;
  readonly made: readonly MadeNode[];
  readonly foreign: readonly Foreign[];
  /** The nodes to plan, in order. */
  readonly order: readonly NodeRef[];
  /** The nodes the passes retired, in the order they did. */
  readonly retired: readonly NodeRef[];
  readonly fused: readonly (readonly [NodeRef, readonly NodeRef[]])[];
  readonly covers: readonly (readonly [NodeRef, readonly NodeRef[]])[];
  readonly folds: readonly (readonly NodeRef[])[];
  readonly chains: readonly (readonly NodeRef[])[];
  readonly masks: readonly (readonly NodeRef[])[];
  /** The replay entries the scheduler planned this structure's nodes with (replay.ts). */
  entries: FlushEntries | null;
}

/** Graph structures kept per runtime (a training step, an evaluation pass, a read: a few alternate). */
const TEMPLATES = 8;

/** The templates of each runtime (the passes' results depend on its fusion switches and limits). */
const caches = new WeakMap<GpuRuntime, PassReplayCache>();

/** Hit and miss counts of a runtime's pass replay (a hit skips the fusion passes for a whole flush). */
export class PassReplayCache {
  readonly templates = new Map<number, PassTemplate>();
  hits = 0;
  misses = 0;
}

/** The runtime's pass replay cache. */
export function passReplayStats(runtime: GpuRuntime): PassReplayCache {
  let cache = caches.get(runtime);
  if (!cache) caches.set(runtime, (cache = new PassReplayCache()));
  return cache;
}

/** A small number per op definition (signatures hold numbers). */
const opIds = new WeakMap<object, number>();
let nextOpId = 1;

/** The signature being built (reused: it is copied only when a template is kept). */
let described = new Int32Array(4096);
let describedLength = 0;

/** Descriptions made so far (the number of the current one marks its storages: Storage.describedIn). */
let descriptions = 0;
/** The outputs of the flush being described, by code (reused). */
const produced: Tensor[] = [];

function put(v: number): void {
  if (describedLength === described.length) {
    const grown = new Int32Array(described.length * 2);
    grown.set(described);
    described = grown;
  }
  described[describedLength++] = v;
}

/**
 * Writes the structure of `nodes` into `described` and returns its hash: per node its op, per input where its
 * storage comes from (an output of an earlier node of the flush, and whether the very output tensor or a view of
 * it, or the n-th distinct outside storage, and whether that tensor is computed), its dtype and shape, the
 * storages it overwrites in place, and per output whether a tensor holds it and how many nodes and reads use it.
 * Those are all the fusion passes look at besides attributes (compared separately), op definitions and the
 * runtime's switches and limits.
 */
function describe(nodes: readonly Node[]): number {
  describedLength = 0;
  // Each storage's code, kept on the storage for this description (Storage.describedIn): >= 0 the n-th output of
  // the flush, < 0 the n-th outside storage.
  const pass = ++descriptions;
  produced.length = 0;
  let outside = 0;
  const code = (s: Storage): number => {
    if (s.describedIn !== pass) {
      s.describedIn = pass;
      s.describedAs = -++outside;
    }
    return s.describedAs;
  };
  for (const n of nodes) {
    let id = opIds.get(n.op);
    if (id === undefined) opIds.set(n.op, (id = nextOpId++));
    put(id);
    put(n.inputs.length);
    for (const t of n.inputs) {
      const c = code(t.storage);
      put(c);
      put((c >= 0 && produced[c] === t ? 1 : 0) | (t.node ? 2 : 0) | (t.dtype === 'int32' ? 4 : 0));
      const shape = t.shape;
      put(shape.length);
      for (let i = 0; i < shape.length; i++) put(shape[i]);
    }
    put(n.writes.length);
    for (const s of n.writes) put(code(s));
    put(n.outputs.length);
    for (const t of n.outputs) {
      t.storage.describedIn = pass;
      t.storage.describedAs = produced.length;
      produced.push(t);
      put(t.storage.refs !== 0 ? 1 : 0);
      put(t.storage.readers);
    }
  }
  // Nothing of the flush is kept past its description.
  produced.length = 0;
  let h = 0x811c9dc5 ^ describedLength;
  for (let i = 0; i < describedLength; i++) h = Math.imul(h ^ described[i], 0x01000193);
  return h >>> 0;
}

/**
 * Whether `tp` was made from a graph with exactly the structure just described and `nodes`' attributes, but for
 * uniform-only ones (OpDef.uniformAttrs: no pass reads them, and made nodes take them anew, see `instantiate`).
 */
function fits(tp: PassTemplate, nodes: readonly Node[]): boolean {
  const sig = tp.signature;
  if (sig.length !== describedLength || tp.attrs.length !== nodes.length) return false;
  for (let i = 0; i < describedLength; i++) if (sig[i] !== described[i]) return false;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    if (!sameAttrsBut(tp.attrs[i], n.attrs, tp.exact[i] ? undefined : n.op.uniformAttrs)) return false;
  }
  return true;
}

/** A made node's attributes over `nodes`: the template's, with the uniform-only values of its source node. */
function currentAttrs(m: MadeNode, nodes: readonly Node[]): unknown {
  const keys = m.op.uniformAttrs;
  if (m.attrsFrom < 0 || !keys) return m.attrs;
  const source = nodes[m.attrsFrom].attrs as Record<string, unknown>;
  if (sameAt(m.attrs, source, keys)) return m.attrs;
  const attrs: Record<string, unknown> = { ...(m.attrs as Record<string, unknown>) };
  for (const k of keys) attrs[k] = source[k];
  return attrs;
}

/** The tensor a reference names in `nodes` (see TensorRefs). */
function resolve(tp: PassTemplate, nodes: readonly Node[], refs: TensorRefs, k: number): Tensor {
  const i = refs[k];
  const slot = refs[k + 1];
  if (i < 0) return tp.foreign[slot].tensor;
  return slot >= 0 ? nodes[i].inputs[slot] : nodes[i].outputs[-slot - 1];
}

/** Whether every fold the template reads is still cached, fresh, and folded from this flush's tensors. */
function foldsCurrent(tp: PassTemplate, nodes: readonly Node[], runtime: GpuRuntime): boolean {
  for (const f of tp.foreign) {
    const sources = foldSources(runtime, f.tensor);
    if (!sources || 2 * sources.length !== f.sources.length) return false;
    for (let k = 0; k < sources.length; k++) {
      if (resolve(tp, nodes, f.sources, 2 * k).storage !== sources[k]) return false;
    }
  }
  return true;
}

/**
 * Makes the template's nodes over `nodes` and retires what the passes retired: the passes' effect, replayed. Runs
 * on every replayed flush, so it loops rather than maps.
 */
function instantiate(
  tp: PassTemplate,
  nodes: readonly Node[],
  retire: (n: Node) => void,
): { nodes: Node[]; passes: PassResults } {
  const tensors = (refs: TensorRefs): Tensor[] => {
    const list: Tensor[] = new Array(refs.length / 2);
    for (let k = 0; k < refs.length; k += 2) list[k / 2] = resolve(tp, nodes, refs, k);
    return list;
  };
  const made: Node[] = new Array(tp.made.length);
  for (let j = 0; j < tp.made.length; j++) {
    const m = tp.made[j];
    const inputs = tensors(m.inputs);
    for (let k = 0; k < inputs.length; k++) inputs[k].storage.readers++;
    const writes = tensors(m.writes).map((t) => t.storage);
    const outputs = tensors(m.outputs);
    const attrs = currentAttrs(m, nodes);
    made[j] = { id: state.nextId++, op: m.op, attrs, inputs, outputs, writes, pending: true };
  }
  const node = (r: NodeRef): Node => (r >= 0 ? nodes[r] : made[-r - 1]);
  const list = (refs: readonly NodeRef[]): Node[] => {
    const out: Node[] = new Array(refs.length);
    for (let k = 0; k < refs.length; k++) out[k] = node(refs[k]);
    return out;
  };
  const byNode = (pairs: PassTemplate['fused']): Map<Node, Node[]> => {
    const map = new Map<Node, Node[]>();
    for (let k = 0; k < pairs.length; k++) map.set(node(pairs[k][0]), list(pairs[k][1]));
    return map;
  };
  const order = list(tp.order);
  // After the made nodes took their readers, so no input of theirs is freed on the way.
  for (let k = 0; k < tp.retired.length; k++) retire(node(tp.retired[k]));
  const ids = (lists: readonly (readonly NodeRef[])[]) => lists.map((l) => l.map((r) => node(r).id));
  return {
    nodes: order,
    passes: {
      fused: byNode(tp.fused),
      covers: byNode(tp.covers),
      folds: ids(tp.folds),
      chains: ids(tp.chains),
      masks: ids(tp.masks),
    },
  };
}

/**
 * The flush node (its index in `before`) whose uniform-only attributes the made node `n` copied: one it stands
 * for (`covers`, followed through made nodes), of its op, with the same values; -1 for none. Every other node
 * it stands for that has uniform-only attributes is marked in `exact` (its values may have shaped `n`), and when
 * `n` has uniform-only attributes of unknown origin, every node of the flush that has them is.
 */
function uniformSource(
  n: Node,
  covers: ReadonlyMap<Node, readonly Node[]>,
  index: ReadonlyMap<Node, number>,
  before: readonly Node[],
  exact: Uint8Array,
): number {
  const covered: number[] = [];
  const walk = (m: Node, depth: number) => {
    const i = index.get(m);
    if (i !== undefined) covered.push(i);
    else if (depth < 8) for (const c of covers.get(m) ?? []) if (c !== m) walk(c, depth + 1);
  };
  walk(n, 0);
  const keys = n.op.uniformAttrs;
  const from = keys
    ? (covered.find((i) => before[i].op === n.op && sameAt(n.attrs, before[i].attrs, keys)) ?? -1)
    : -1;
  for (const i of covered) if (i !== from && before[i].op.uniformAttrs) exact[i] = 1;
  if (keys && from < 0) before.forEach((m, i) => m.op.uniformAttrs && (exact[i] = 1));
  return from;
}

/**
 * The template of what the passes made (`after`, `passes`, the nodes they retired) of `before`, whose structure
 * was just described; null when it cannot be replayed: a made node outputs a tensor that is not one of the
 * flush's (a fold computed in this flush: the next flush reuses it from the cache instead), or reads a tensor
 * from outside that is not a fresh cached fold.
 */
function template(
  before: readonly Node[],
  after: readonly Node[],
  passes: PassResults,
  retired: readonly Node[],
  runtime: GpuRuntime,
): PassTemplate | null {
  const index = new Map<Node, number>();
  const tensorAt = new Map<Tensor, [number, number]>();
  const storageAt = new Map<Storage, [number, number]>();
  before.forEach((n, i) => {
    index.set(n, i);
    const note = (t: Tensor, slot: number) => {
      if (!tensorAt.has(t)) tensorAt.set(t, [i, slot]);
      if (!storageAt.has(t.storage)) storageAt.set(t.storage, [i, slot]);
    };
    n.inputs.forEach((t, k) => note(t, k));
    n.outputs.forEach((t, k) => note(t, -k - 1));
  });
  let replayable = true;
  const foreign: Foreign[] = [];
  const foreignAt = new Map<Tensor, number>();
  const outsideRef = (t: Tensor): [number, number] => {
    let f = foreignAt.get(t);
    if (f === undefined) {
      const sources = foldSources(runtime, t)?.map((s) => storageAt.get(s));
      if (!sources || sources.some((s) => !s)) {
        replayable = false;
        return [-1, 0];
      }
      foreignAt.set(t, (f = foreign.length));
      foreign.push({ tensor: t, sources: sources.flatMap((s) => s!) });
    }
    return [-1, f];
  };
  const refs = (list: readonly Tensor[], outside: boolean): TensorRefs =>
    list.flatMap((t) => {
      const at = tensorAt.get(t);
      if (at) return at;
      if (outside) return outsideRef(t);
      replayable = false;
      return [0, 0];
    });
  const made: MadeNode[] = [];
  const madeAt = new Map<Node, number>();
  const byId = new Map<number, Node>(before.map((n) => [n.id, n]));
  const exact = new Uint8Array(before.length);
  const ref = (n: Node): NodeRef => {
    const i = index.get(n);
    if (i !== undefined) return i;
    let j = madeAt.get(n);
    if (j === undefined) {
      madeAt.set(n, (j = made.length));
      byId.set(n.id, n);
      const writes = n.writes.map((s) => storageAt.get(s));
      if (writes.some((w) => !w)) replayable = false;
      made.push({
        op: n.op,
        attrs: copyAttrs(n.attrs),
        attrsFrom: uniformSource(n, passes.covers, index, before, exact),
        inputs: refs(n.inputs, true),
        outputs: refs(n.outputs, false),
        writes: writes.flatMap((w) => w ?? [0, 0]),
      });
    }
    return -j - 1;
  };
  const pairs = (m: ReadonlyMap<Node, Node[]>) => [...m].map(([p, list]) => [ref(p), list.map(ref)] as const);
  const order = after.map(ref);
  const fused = pairs(passes.fused);
  const covers = pairs(passes.covers);
  const retiredRefs = retired.map(ref);
  const ids = (lists: readonly (readonly number[])[]) =>
    lists.map((l) =>
      l.map((id) => {
        const n = byId.get(id);
        if (!n) replayable = false;
        return n ? ref(n) : 0;
      }),
    );
  const folds = ids(passes.folds);
  const chains = ids(passes.chains);
  const masks = ids(passes.masks);
  if (!replayable) return null;
  return {
    signature: described.slice(0, describedLength),
    attrs: before.map((n) => copyAttrs(n.attrs)),
    exact,
    made,
    foreign,
    order,
    retired: retiredRefs,
    fused,
    covers,
    folds,
    chains,
    masks,
    entries: null,
  };
}

/**
 * Runs the fusion passes over `nodes` (pruned, in record order), or, when an earlier flush of the same structure
 * (see `describe`) with the same attributes (but for uniform-only ones, see `fits`) kept its passes' results and
 * the folds those read are still fresh, makes the same nodes over this flush's tensors instead: what the passes
 * would make, without running them.
 * Returns the nodes to plan, the pass results, and the template used or kept (null: none).
 */
export function replayPasses(
  nodes: readonly Node[],
  runtime: GpuRuntime,
  retire: (n: Node) => void,
): { nodes: readonly Node[]; passes: PassResults; template: PassTemplate | null } {
  const cache = passReplayStats(runtime);
  const key = describe(nodes);
  const known = cache.templates.get(key);
  if (known && fits(known, nodes) && foldsCurrent(known, nodes, runtime)) {
    // Most recently used last.
    cache.templates.delete(key);
    cache.templates.set(key, known);
    cache.hits++;
    const made = instantiate(known, nodes, retire);
    return { nodes: made.nodes, passes: made.passes, template: known };
  }
  cache.misses++;
  const retired: Node[] = [];
  const ran = runFusionPasses(nodes, runtime, (n) => {
    retired.push(n);
    retire(n);
  });
  const kept = template(nodes, ran.nodes, ran.passes, retired, runtime);
  cache.templates.delete(key);
  if (kept) {
    if (cache.templates.size >= TEMPLATES) cache.templates.delete(cache.templates.keys().next().value!);
    cache.templates.set(key, kept);
  }
  return { ...ran, template: kept };
}
