// Plan cache for replay: a flush with the same structure as an earlier one reuses its nodes' dispatches.
import type { Dispatch, UniformValue } from '../gpu/runtime.js';
import type { Epilogue } from '../ops/epilogue.js';
import type { Node, Storage } from './state.js';

/** What one node's planning produced, and everything it depended on. */
export interface PlannedEntry {
  op: Node['op'];
  /** A copy of the node's attributes (see copyAttrs). */
  attrs: unknown;
  /** What the scheduler fused into its store (ops/epilogue.ts's epilogueKey; '' for nothing). */
  epilogue: string;
  shapes: readonly (readonly number[])[];
  /** Input buffers, then output buffers. */
  buffers: readonly GPUBuffer[];
  /** Scratch sizes asked for, in order, and the buffers they got. */
  scratchBytes: readonly number[];
  scratch: readonly GPUBuffer[];
  dispatches: readonly Dispatch[];
  /** False when the forward reserved a check slot: its dispatches bind this flush's flags, so plan anew. */
  replayable: boolean;
}

/** Flush structures kept (a training step, an evaluation pass, a read: a few alternate). */
const FLUSHES = 8;

/**
 * The dispatches of the flushes seen last, by structure (the sequence of ops planned). Buffers are assigned as
 * the last flush of that structure had them where the pool still has them free. A node replays its entry
 * when its op, attributes, shapes, epilogue and buffers (inputs, outputs, scratch) are the ones recorded: then
 * its forward plan would build the same dispatches, so they are reused as they are (and with them the
 * runtime's pipelines, bind groups and packed uniforms). Attributes the op declares uniform-only
 * (OpDef.uniformAttrs) may differ: the forward then runs again for the uniforms alone, which replace those of
 * the entry's dispatches (the runtime repacks what changed). Ops whose forward reserves a check slot (labels
 * checked on the device) are planned anew every time.
 */
/** The plan kept for one flush structure: per planned node, and the buffers its uploads got. */
export interface FlushEntries {
  nodes: (PlannedEntry | null)[];
  uploads: GPUBuffer[];
  /**
   * The pass template (pass_replay.ts) whose nodes every entry was last planned or matched in full for, in a
   * flush that planned each node in its slot; null when unknown. A flush of that template needs to compare
   * buffers only (`matchesBuffers`), and uniform-only attributes (OpDef.uniformAttrs): its nodes have the ops,
   * other attributes, shapes and epilogues of the entries.
   */
  owner: object | null;
}

export class ReplayCache {
  private readonly flushes = new Map<string, FlushEntries>();
  hits = 0;
  misses = 0;
  /** Hits whose uniform-only attributes had changed: their dispatches' uniforms were derived anew. */
  rederived = 0;

  /**
   * The entries of flushes shaped like `nodes` (created empty on first sight). The shape of a flush is the
   * sequence of its ops, which of them run fused into a producer, and their input shapes, hashed: flushes that
   * alternate (batch sizes, a training step and an evaluation) keep one plan each. Two shapes with one hash
   * share entries, which costs replans, never wrong dispatches: each node is matched in full (`matches`).
   */
  entries(nodes: readonly Node[], folded: ReadonlySet<Node>): FlushEntries {
    const key = structureKey(nodes, folded);
    let list = this.flushes.get(key);
    if (list) {
      // Most recently used last.
      this.flushes.delete(key);
    } else {
      list = { nodes: [], uploads: [], owner: null };
      if (this.flushes.size >= FLUSHES) this.flushes.delete(this.flushes.keys().next().value!);
    }
    this.flushes.set(key, list);
    return list;
  }

  clear(): void {
    this.flushes.clear();
  }
}

/** A small number per op definition (for structure hashes). */
const opIds = new WeakMap<object, number>();
let nextOpId = 1;

/** Two 32-bit hashes (FNV-1a style) of the ops, fused flags and input shapes of `nodes`, with their count. */
function structureKey(nodes: readonly Node[], folded: ReadonlySet<Node>): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x2545f491;
  for (const n of nodes) {
    let id = opIds.get(n.op);
    if (id === undefined) opIds.set(n.op, (id = nextOpId++));
    if (folded.has(n)) id = -id;
    h1 = Math.imul(h1 ^ id, 0x01000193);
    h2 = Math.imul(h2 ^ id, 0x5bd1e995) ^ (h2 >>> 15);
    for (const t of n.inputs) {
      const shape = t.shape;
      h1 = Math.imul(h1 ^ shape.length, 0x01000193);
      for (let i = 0; i < shape.length; i++) {
        h1 = Math.imul(h1 ^ shape[i], 0x01000193);
        h2 = Math.imul(h2 ^ shape[i], 0x5bd1e995) ^ (h2 >>> 15);
      }
    }
  }
  return `${nodes.length}:${h1 >>> 0}:${h2 >>> 0}`;
}

/**
 * The buffers a node's dispatches bind, in a fixed order: its inputs', its outputs' (`outputs`: where each is
 * stored, the chain's last output for output 0 of a fused producer), then the epilogue's (batch-norm parameters,
 * residual).
 */
export function boundBuffers(n: Node, epilogue: Epilogue, outputs: readonly Storage[]): GPUBuffer[] {
  const buffers: GPUBuffer[] = [];
  for (const t of n.inputs) buffers.push(t.storage.buffer!);
  for (const s of outputs) buffers.push(s.buffer!);
  const { bn, residual } = epilogue;
  if (bn) buffers.push(bn.gamma, bn.beta, bn.mean, bn.variance);
  if (residual) buffers.push(residual);
  return buffers;
}

/**
 * A copy of attributes to keep in an entry: plain data (arrays, typed arrays, plain objects) is copied, so a
 * caller that mutates its attributes object later cannot make a stale entry match; anything else (a function,
 * a class instance) is kept as it is and compared by identity.
 */
export function copyAttrs(a: unknown): unknown {
  if (typeof a !== 'object' || a === null) return a;
  if (Array.isArray(a)) return a.map(copyAttrs);
  if (ArrayBuffer.isView(a)) return (a as unknown as { slice(): unknown }).slice();
  if (Object.getPrototypeOf(a) !== Object.prototype) return a;
  const copy: Record<string, unknown> = {};
  for (const k of Object.keys(a)) copy[k] = copyAttrs((a as Record<string, unknown>)[k]);
  return copy;
}

/**
 * Whether two attribute values are equal as data: numbers and strings by value (`Object.is`: NaN equals NaN,
 * 0 and -0 differ), arrays, typed arrays and plain objects member by member, anything else by identity.
 */
export function sameAttrs(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameAttrs(a[i], b[i])) return false;
    return true;
  }
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(a);
  if (proto !== Object.prototype || Object.getPrototypeOf(b) !== proto) return false;
  // Key by key without building key arrays: this runs for every replayed node of every step.
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const k in x) {
    if (!Object.prototype.hasOwnProperty.call(y, k) || !sameAttrs(x[k], y[k])) return false;
    keys++;
  }
  for (const k in y) if (Object.prototype.hasOwnProperty.call(y, k)) keys--;
  return keys === 0;
}

/** Whether a value is a plain object (attributes with named keys). */
function isPlain(a: unknown): a is Record<string, unknown> {
  return typeof a === 'object' && a !== null && Object.getPrototypeOf(a) === Object.prototype;
}

/**
 * `sameAttrs` on every key but the op's uniform-only ones (OpDef.uniformAttrs; none given: every key). Values
 * that are not plain objects are compared whole.
 */
export function sameAttrsBut(a: unknown, b: unknown, skip: readonly string[] | undefined): boolean {
  if (!skip || skip.length === 0 || !isPlain(a) || !isPlain(b)) return sameAttrs(a, b);
  let keys = 0;
  for (const k in a) {
    if (skip.includes(k)) continue;
    if (!Object.prototype.hasOwnProperty.call(b, k) || !sameAttrs(a[k], b[k])) return false;
    keys++;
  }
  for (const k in b) if (!skip.includes(k) && Object.prototype.hasOwnProperty.call(b, k)) keys--;
  return keys === 0;
}

/** Whether `a` and `b` hold equal values (`sameAttrs`) at each of `keys` (true for attributes not plain objects). */
export function sameAt(a: unknown, b: unknown, keys: readonly string[]): boolean {
  if (!isPlain(a) || !isPlain(b)) return true;
  for (let i = 0; i < keys.length; i++) if (!sameAttrs(a[keys[i]], b[keys[i]])) return false;
  return true;
}

/**
 * Whether `entry`, planned for a node of the same op, attributes, shapes and epilogue as `n` (FlushEntries.owner),
 * bound these buffers and can be replayed (scratch compared by the caller).
 */
export function matchesBuffers(entry: PlannedEntry, n: Node, buffers: readonly GPUBuffer[]): boolean {
  if (!entry.replayable || entry.op !== n.op || entry.buffers.length !== buffers.length) return false;
  for (let i = 0; i < buffers.length; i++) if (entry.buffers[i] !== buffers[i]) return false;
  return true;
}

/**
 * Whether `entry` was planned for this node and these buffers (scratch compared by the caller), its attributes
 * equal but for the op's uniform-only ones (the caller re-derives the uniforms when those differ).
 */
export function matches(
  entry: PlannedEntry,
  n: Node,
  epilogue: string,
  buffers: readonly GPUBuffer[],
): boolean {
  if (entry.epilogue !== epilogue || !matchesBuffers(entry, n, buffers)) return false;
  const shapes = entry.shapes;
  if (shapes.length !== n.inputs.length) return false;
  for (let i = 0; i < shapes.length; i++) {
    const a = shapes[i];
    const b = n.inputs[i].shape;
    if (a.length !== b.length) return false;
    for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  }
  return sameAttrsBut(entry.attrs, n.attrs, n.op.uniformAttrs);
}

/** What differs between two dispatch lists besides uniform values ('' when nothing): see OpDef.uniformAttrs. */
export function dispatchesDiffer(a: readonly Dispatch[], b: readonly Dispatch[]): string {
  if (a.length !== b.length) return `its dispatch count (${a.length} to ${b.length})`;
  for (let k = 0; k < a.length; k++) {
    const x = a[k];
    const y = b[k];
    const at = `dispatch ${k}'s`;
    if (x.shader !== y.shader || x.code !== y.code) return `${at} shader`;
    if (!sameAttrs(x.constants, y.constants)) return `${at} constants`;
    if (!sameAttrs(x.regions, y.regions)) return `${at} shader regions`;
    if (x.workgroups !== y.workgroups) return `${at} workgroups (${x.workgroups} to ${y.workgroups})`;
    if (x.uniforms.length !== y.uniforms.length) return `${at} uniform count`;
    if (x.buffers.length !== y.buffers.length || x.buffers.some((buf, i) => buf !== y.buffers[i]))
      return `${at} buffers`;
    if (!sameAttrs(x.ranges, y.ranges)) return `${at} buffer ranges`;
    for (let i = 0; i < x.uniforms.length; i++)
      if (!sameKind(x.uniforms[i], y.uniforms[i])) return `${at} uniform ${i}'s type`;
  }
  return '';
}

/** Whether two uniform fields have one type (u32, f32, i32). */
function sameKind(a: UniformValue, b: UniformValue): boolean {
  if (typeof a === 'number' || typeof b === 'number') return typeof a === typeof b;
  return 'f32' in a === 'f32' in b;
}
