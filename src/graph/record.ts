// Records an op application as a lazy node: checks inputs and shapes at once, runs nothing.
import { ShapeError, fmtShape } from '../errors.js';
import { sizeOf, type OpDef } from '../ops/types.js';
import { Storage, state, type Node } from './state.js';
import { Tensor } from './tensor.js';

/**
 * Applies `op` to `inputs` lazily and returns its outputs (none for in-place ops).
 * `argNames` name the inputs in error messages.
 */
export function record<A>(
  op: OpDef<A>,
  inputs: readonly Tensor[],
  attrs: A,
  argNames?: readonly string[],
): Tensor[] {
  inputs.forEach((t, i) => {
    const arg = argNames?.[i] ?? `input ${i}`;
    if (!(t instanceof Tensor))
      throw new ShapeError(`${op.name}: argument '${arg}' must be a Tensor, got ${String(t)}`);
    t.assertUsable(op.name, arg);
  });
  const specs = op.check(
    inputs.map((t) => ({ shape: t.shape, dtype: t.dtype })),
    attrs,
  );
  const writes = (op.writesInputs ?? []).map((i) => {
    if (inputs[i].node) {
      throw new ShapeError(
        `${op.name}: argument '${argNames?.[i] ?? i}' is overwritten in place, so it must be a leaf`,
      );
    }
    return inputs[i].storage;
  });
  const node: Node = {
    id: state.nextId++,
    op,
    attrs,
    inputs,
    outputs: [],
    writes,
    pending: op.forward !== 'alias',
  };
  if (op.forward === 'alias') {
    const [spec] = specs;
    if (sizeOf(spec.shape) !== inputs[0].size) {
      throw new ShapeError(
        `${op.name}: view of ${fmtShape(inputs[0].shape)} cannot have shape ${fmtShape(spec.shape)}`,
      );
    }
    node.outputs.push(new Tensor(spec.shape, spec.dtype, inputs[0].storage, node));
    return node.outputs;
  }
  for (const t of inputs) t.storage.readers++;
  specs.forEach((spec, i) => {
    node.outputs.push(new Tensor(spec.shape, spec.dtype, new Storage(sizeOf(spec.shape) * 4), node, i));
  });
  state.pending.push(node);
  return node.outputs;
}

/** Records a single-output op and returns that output. */
export function apply<A>(
  op: OpDef<A>,
  inputs: readonly Tensor[],
  attrs: A,
  argNames?: readonly string[],
): Tensor {
  return record(op, inputs, attrs, argNames)[0];
}
