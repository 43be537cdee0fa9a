// Fusion pass 'foldBatchNorm': an inference batch norm folded into the preceding conv's filter and bias (cached).
import type { GpuRuntime } from '../../gpu/runtime.js';
import { batchNormFoldOp, batchNormInferenceOp } from '../../ops/batchnorm.js';
import { conv2dOp } from '../../ops/conv2d.js';
import { Storage, state, type Node } from '../state.js';
import { Tensor } from '../tensor.js';

/** Folded parameters kept while their sources keep their values. */
interface FoldEntry {
  /** w, gamma, beta, mean, variance, then the conv bias if any. */
  sources: Storage[];
  /** Their versions when the fold was planned (an upload in that flush counted). */
  versions: number[];
  epsilon: number;
  w: Tensor;
  b: Tensor;
}

/** The folds of each runtime (their buffers belong to its device). */
const caches = new WeakMap<GpuRuntime, FoldEntry[]>();

/** A storage's version once this flush's upload (if any) has landed. */
const versionOf = (s: Storage) => s.version + (s.upload ? 1 : 0);

/** What the pass made of a flush: the new node order and, per node it made, the original nodes it stands for. */
export interface FoldResult {
  nodes: Node[];
  covers: Map<Node, Node[]>;
  /** Each fold: [conv id, batch norm id]. */
  folds: number[][];
}

function makeNode(op: Node['op'], attrs: unknown, inputs: readonly Tensor[]): Node {
  for (const t of inputs) t.storage.readers++;
  return { id: state.nextId++, op, attrs, inputs, outputs: [], writes: [], pending: true };
}

/** Drops the folds whose filter nobody holds any more (the model is gone): their buffers go back to the pool. */
function sweep(cache: FoldEntry[]): void {
  for (let i = cache.length - 1; i >= 0; i--) {
    if (cache[i].sources[0].alive) continue;
    cache[i].w.dispose();
    cache[i].b.dispose();
    cache.splice(i, 1);
  }
}

/** Whether a cached fold still holds: its sources keep the versions it was folded from and its values exist. */
function fresh(e: FoldEntry): boolean {
  const { sources, versions } = e;
  for (let i = 0; i < sources.length; i++) if (versionOf(sources[i]) !== versions[i]) return false;
  return !!(e.w.storage.buffer && !e.w.storage.failure && e.b.storage.buffer && !e.b.storage.failure);
}

/**
 * The cached fold for these sources, computed by an earlier flush and still valid, or null. The cache holds at
 * most one fold per sources and epsilon (a stale one is replaced, see foldBatchNorm).
 */
function cached(cache: FoldEntry[], sources: Storage[], epsilon: number): FoldEntry | null {
  for (const e of cache) {
    if (e.epsilon !== epsilon || e.sources.length !== sources.length) continue;
    if (!e.sources.every((s, i) => s === sources[i])) continue;
    return fresh(e) ? e : null;
  }
  return null;
}

/**
 * The sources (filter, batch-norm tensors, bias) of the fold whose folded filter or bias is `t`, while this
 * runtime's cache still holds that fold and it is fresh (see `cached`); null otherwise. A flush that reuses an
 * earlier flush's pass results (pass_replay.ts) checks its folds with this instead of folding anew.
 */
export function foldSources(runtime: GpuRuntime, t: Tensor): readonly Storage[] | null {
  const cache = caches.get(runtime);
  if (!cache) return null;
  // Every replayed flush asks this for each fold it reads: one pass over the cache, no closures. The entry is the
  // only one of its sources and epsilon, so it is what `cached` would find for them.
  for (let i = 0; i < cache.length; i++) {
    const e = cache[i];
    if (e.w === t || e.b === t) return fresh(e) ? e.sources : null;
  }
  return null;
}

/**
 * Folds each batchNormInference whose input is the output of a conv2d of this flush that it alone reads (no
 * tensor holds it) into that conv: conv(x, w [, bias]) → bn becomes conv(x, w', b') with w' = w * s and
 * b' = (bias - mean) * s + beta, s = gamma / sqrt(variance + eps). w' and b' are computed on the device by a
 * batchNormFold node and cached per runtime; a later flush reuses them while the filter, the bias and the four
 * batch-norm tensors keep the versions they had (an optimizer step or a weight load changes a version, so the
 * fold is recomputed). Only leaves are folded (a computed filter changes every flush), and not when this flush
 * itself overwrites one of them in place. `retire` ends the nodes replaced.
 */
export function foldBatchNorm(
  nodes: readonly Node[],
  runtime: GpuRuntime,
  retire: (n: Node) => void,
): FoldResult {
  let cache = caches.get(runtime);
  if (!cache) caches.set(runtime, (cache = []));
  sweep(cache);
  const producer = new Map<Storage, Node>();
  const written = new Set<Storage>();
  for (const n of nodes) {
    for (const t of n.outputs) producer.set(t.storage, n);
    for (const s of n.writes) written.add(s);
  }
  const replaced = new Map<Node, Node[]>();
  const dropped = new Set<Node>();
  const covers = new Map<Node, Node[]>();
  const folds: number[][] = [];
  for (const bn of nodes) {
    if (bn.op !== batchNormInferenceOp) continue;
    const x = bn.inputs[0];
    const conv = producer.get(x.storage);
    if (!conv || conv.op !== conv2dOp || replaced.has(conv) || conv.outputs[0] !== x) continue;
    if (x.storage.refs !== 0 || x.storage.readers !== 1) continue;
    const [input, w, bias] = conv.inputs;
    const params = [w, ...bn.inputs.slice(1), ...(bias ? [bias] : [])];
    if (params.some((t) => t.node || written.has(t.storage))) continue;
    const sources = params.map((t) => t.storage);
    const { epsilon } = bn.attrs as { epsilon: number };
    let entry = cached(cache, sources, epsilon);
    const made: Node[] = [];
    if (!entry) {
      const stale = cache.findIndex(
        (e) => e.sources.every((s, i) => s === sources[i]) && e.epsilon === epsilon,
      );
      if (stale >= 0) {
        cache[stale].w.dispose();
        cache[stale].b.dispose();
        cache.splice(stale, 1);
      }
      const fold = makeNode(batchNormFoldOp, { epsilon }, params);
      const c = w.shape[w.shape.length - 1];
      const outputs = [
        new Tensor(w.shape, 'float32', new Storage(w.storage.bytes), fold, 0),
        new Tensor([c], 'float32', new Storage(4 * c), fold, 1),
      ];
      // The cache holds them: a tidy scope open around this flush must not dispose them.
      for (const t of outputs) t.leaveScopes();
      fold.outputs.push(...outputs);
      entry = { sources, versions: sources.map(versionOf), epsilon, w: outputs[0], b: outputs[1] };
      cache.push(entry);
      covers.set(fold, [fold]);
      made.push(fold);
    }
    const folded = makeNode(conv2dOp, conv.attrs, [input, entry.w, entry.b]);
    folded.outputs.push(...bn.outputs);
    covers.set(folded, [conv, bn]);
    made.push(folded);
    replaced.set(conv, made);
    dropped.add(bn);
    folds.push([conv.id, bn.id]);
  }
  if (replaced.size === 0) return { nodes: [...nodes], covers, folds };
  const out: Node[] = [];
  for (const n of nodes) {
    const r = replaced.get(n);
    if (r) out.push(...r);
    else if (!dropped.has(n)) out.push(n);
  }
  // After the new nodes took their readers, so no input of theirs is freed on the way.
  for (const n of replaced.keys()) retire(n);
  for (const n of dropped) retire(n);
  return { nodes: out, covers, folds };
}
