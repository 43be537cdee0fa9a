// Plan cache for replay: a flush with the same structure as an earlier one reuses its nodes' dispatches.
import type { Dispatch } from '../gpu/runtime.js';
import type { Node } from './state.js';

/** What one node's planning produced, and everything it depended on. */
export interface PlannedEntry {
  op: Node['op'];
  attrs: string;
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
 * runtime's pipelines, bind groups and packed uniforms). Ops whose forward reserves a check slot (labels
 * checked on the device) are planned anew every time.
 */
/** The plan kept for one flush structure: per planned node, and the buffers its uploads got. */
export interface FlushEntries {
  nodes: (PlannedEntry | null)[];
  uploads: GPUBuffer[];
}

export class ReplayCache {
  private readonly flushes = new Map<string, FlushEntries>();
  hits = 0;
  misses = 0;

  /** The entries of flushes shaped like `nodes` (created empty on first sight). */
  entries(nodes: readonly Node[], folded: ReadonlySet<Node>): FlushEntries {
    let key = '';
    for (const n of nodes) key += folded.has(n) ? `${n.op.name}~,` : `${n.op.name},`;
    let list = this.flushes.get(key);
    if (list) {
      // Most recently used last.
      this.flushes.delete(key);
    } else {
      list = { nodes: [], uploads: [] };
      if (this.flushes.size >= FLUSHES) this.flushes.delete(this.flushes.keys().next().value!);
    }
    this.flushes.set(key, list);
    return list;
  }

  clear(): void {
    this.flushes.clear();
  }
}

/** The attributes as a comparable string. */
export function attrsKey(attrs: unknown): string {
  return JSON.stringify(attrs) ?? '';
}

/** Whether `entry` was planned for exactly this node and these buffers (scratch compared by the caller). */
export function matches(
  entry: PlannedEntry | null,
  n: Node,
  epilogue: string,
  buffers: readonly GPUBuffer[],
): entry is PlannedEntry {
  if (
    !entry ||
    !entry.replayable ||
    entry.op !== n.op ||
    entry.epilogue !== epilogue ||
    entry.buffers.length !== buffers.length
  )
    return false;
  for (let i = 0; i < buffers.length; i++) if (entry.buffers[i] !== buffers[i]) return false;
  const shapes = entry.shapes;
  if (shapes.length !== n.inputs.length) return false;
  for (let i = 0; i < shapes.length; i++) {
    const a = shapes[i];
    const b = n.inputs[i].shape;
    if (a.length !== b.length) return false;
    for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  }
  return entry.attrs === attrsKey(n.attrs);
}
