// What the graph passes look up about a flush's nodes: positions, producers, readers and in-place writes.
import type { Node, Storage } from '../state.js';

export interface FlushIndex {
  /** Each node's position in the flush. */
  index: Map<Node, number>;
  /** The node computing each storage. */
  producer: Map<Storage, Node>;
  /** The nodes reading each storage, in order (a node reading it twice is listed twice). */
  readers: Map<Storage, Node[]>;
  /** The positions of the nodes overwriting each storage in place. */
  writtenAt: Map<Storage, number[]>;
}

/** The lookups of `nodes`, built in one walk. */
export function indexFlush(nodes: readonly Node[]): FlushIndex {
  const fi: FlushIndex = { index: new Map(), producer: new Map(), readers: new Map(), writtenAt: new Map() };
  nodes.forEach((n, i) => {
    fi.index.set(n, i);
    for (const t of n.outputs) fi.producer.set(t.storage, n);
    for (const t of n.inputs) {
      const list = fi.readers.get(t.storage);
      if (list) list.push(n);
      else fi.readers.set(t.storage, [n]);
    }
    for (const s of n.writes) {
      const list = fi.writtenAt.get(s);
      if (list) list.push(i);
      else fi.writtenAt.set(s, [i]);
    }
  });
  return fi;
}

export const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);
