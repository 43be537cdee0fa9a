// Fusion pass 'epilogue': an elementwise op (relu) folded into the store of the producer of its input.
import type { Node, Storage } from '../state.js';

/**
 * An op that can run as an epilogue (relu) whose input is output 0 of a producer that offers that epilogue,
 * and is the only reader of that output while no tensor holds it, is folded into the producer. Returns the
 * folded node by producer.
 */
export function fuseEpilogues(nodes: readonly Node[]): Map<Node, Node> {
  const fused = new Map<Node, Node>();
  const producers = new Map<Storage, Node>();
  for (const n of nodes) if (n.op.epilogues && n.outputs.length > 0) producers.set(n.outputs[0].storage, n);
  for (const e of nodes) {
    const kind = e.op.asEpilogue;
    const s = e.inputs[0]?.storage;
    const producer = s && producers.get(s);
    if (!kind || !producer || fused.has(producer) || !producer.op.epilogues!.includes(kind)) continue;
    if (s.refs === 0 && s.readers === 1) fused.set(producer, e);
  }
  return fused;
}
