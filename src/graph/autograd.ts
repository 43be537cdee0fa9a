// Reverse-mode autograd: gradient nodes are recorded like any op, only along paths to trainable leaves.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { add } from '../ops/arithmetic.js';
import { fill } from '../ops/fill.js';
import type { Node } from './state.js';
import type { Tensor } from './tensor.js';
import { onExplainEnd } from './explain_undo.js';
import { keep } from './tidy.js';

/** Nodes reachable from `root` through tensors that need gradients, inputs before their consumers. */
function topologicalOrder(root: Tensor): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  // Iterative post-order DFS, so deep networks do not overflow the call stack.
  const stack: { node: Node; next: number }[] = [];
  if (root.node && root.needsGrad) stack.push({ node: root.node, next: 0 });
  if (root.node) seen.add(root.node);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const input = top.node.inputs[top.next++];
    if (input === undefined) {
      order.push(top.node);
      stack.pop();
    } else if (input.node && input.needsGrad && !seen.has(input.node)) {
      seen.add(input.node);
      stack.push({ node: input.node, next: 0 });
    }
  }
  return order;
}

/**
 * Records the backward pass of `loss` and returns the gradient of every tensor on a path to a trainable leaf
 * (leaves included), touching no `.grad`. `dy` seeds the gradient (default: ones, which needs a one-element loss).
 */
export function gradients(loss: Tensor, dy?: Tensor, op = 'backward'): Map<Tensor, Tensor> {
  if (!dy && loss.size !== 1) {
    throw new ShapeError(`${op}: loss must have one element, got shape ${fmtShape(loss.shape)}`);
  }
  if (!loss.needsGrad) {
    throw new ArgumentError(`${op}: the loss does not depend on any tensor with requiresGrad`);
  }
  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    grads.set(t, prev ? add(prev, g) : g);
  };
  grads.set(loss, dy ?? fill(loss.shape, 1));
  const order = topologicalOrder(loss);
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    const rules = node.op.backward;
    const dys = node.outputs.map((t) => grads.get(t) ?? null);
    if (dys.every((g) => g === null)) continue;
    if (rules === null)
      throw new ArgumentError(`${op}: op ${node.op.name} is a backward pass and has no gradient`);
    // A primary output that got no gradient counts as zeros; secondary outputs (saved statistics, indices)
    // stay null, so rules must treat them as absent.
    const filled = dys.map((g, i) => g ?? (i === 0 ? fill(node.outputs[0].shape, 0) : null));
    node.inputs.forEach((input, i) => {
      const rule = rules[i];
      if (!input.needsGrad || !rule) return;
      accumulate(input, rule({ inputs: node.inputs, outputs: node.outputs, attrs: node.attrs, dys: filled }));
    });
  }
  return grads;
}

/**
 * Records the backward pass of `loss` and stores the gradients in `.grad` of every leaf with requiresGrad.
 * `dy` seeds the gradient (default: ones, which needs a one-element loss).
 */
export function backward(loss: Tensor, dy?: Tensor): void {
  for (const [t, g] of gradients(loss, dy)) {
    if (t.node || !t.requiresGrad) continue;
    const previous = t.grad;
    const total = keep(previous ? add(previous, g) : g);
    // Under explain() nothing is computed: the planned gradient is dropped at its end and the previous one kept.
    if (!onExplainEnd(() => ((t.grad = previous), total.dispose()))) previous?.dispose();
    t.grad = total;
  }
}
