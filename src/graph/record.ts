// Records an op application as a lazy node: checks inputs and shapes at once, runs nothing.
import { ShapeError, fmtShape } from '../errors.js';
import { checkBufferBytes, fitsBuffer } from '../gpu/limits.js';
import { sizeOf, type OpDef, type TensorSpec } from '../ops/types.js';
import { Storage, state, type Node } from './state.js';
import { Tensor } from './tensor.js';

/** The host clock (the global `performance` is a getter in Node: read once, not twice per recorded op). */
const clock = globalThis.performance;

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
  const start = clock.now();
  try {
    return recordNode(op, inputs, attrs, argNames);
  } finally {
    state.cpu.recordMs += clock.now() - start;
  }
}

/** No inputs overwritten in place (most ops). */
const NONE: readonly number[] = [];

function recordNode<A>(
  op: OpDef<A>,
  inputs: readonly Tensor[],
  attrs: A,
  argNames?: readonly string[],
): Tensor[] {
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    // The argument's name is built only for an error: recording is on every step's hot path.
    if (!(t instanceof Tensor)) {
      const arg = argNames?.[i] ?? `input ${i}`;
      throw new ShapeError(`${op.name}: argument '${arg}' must be a Tensor, got ${String(t)}`);
    }
    if (t.disposed) t.assertUsable(op.name, argNames?.[i] ?? `input ${i}`);
  }
  const specs = op.check(
    inputs.map((t) => ({ shape: t.shape, dtype: t.dtype })),
    attrs,
  );
  if (op.forward !== 'alias') checkSizes(op, inputs, specs, attrs, argNames);
  const writes: Storage[] = [];
  const written = op.writesInputs ?? NONE;
  for (let k = 0; k < written.length; k++) {
    const i = written[k];
    if (inputs[i].node) {
      throw new ShapeError(
        `${op.name}: argument '${argNames?.[i] ?? i}' is overwritten in place, so it must be a leaf`,
      );
    }
    writes.push(inputs[i].storage);
  }
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
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    node.outputs.push(new Tensor(spec.shape, spec.dtype, new Storage(sizeOf(spec.shape) * 4), node, i));
  }
  state.pending.push(node);
  return node.outputs;
}

/**
 * Checks every input and output against the device's buffer limits (once the engine is up; work recorded before
 * init() is checked when it is planned). A device loss also stops new work here. Messages are built only for a
 * tensor that does not fit, and an op that can split its work is asked for a split only when some tensor is
 * larger than one binding (when each fits, every kernel binds it whole): recording stays cheap per op.
 */
function checkSizes<A>(
  op: OpDef<A>,
  inputs: readonly Tensor[],
  outputs: readonly TensorSpec[],
  attrs: A,
  argNames?: readonly string[],
): void {
  const runtime = state.runtime;
  if (!runtime) return;
  runtime.assertRunning(op.name);
  const limits = runtime.info.limits;
  const whole = !op.bindsRanges;
  let split = false;
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    const bytes = t.storage.bytes;
    if (!fitsBuffer(bytes, limits, whole)) {
      const what = `${op.name}: argument '${argNames?.[i] ?? `input ${i}`}' ${fmtShape(t.shape)}`;
      checkBufferBytes(what, bytes, limits, whole);
    }
    split ||= !fitsBuffer(bytes, limits, true);
  }
  for (let i = 0; i < outputs.length; i++) {
    const bytes = sizeOf(outputs[i].shape) * 4;
    if (!fitsBuffer(bytes, limits, whole)) {
      checkBufferBytes(`${op.name}: output ${i} ${fmtShape(outputs[i].shape)}`, bytes, limits, whole);
    }
    split ||= !fitsBuffer(bytes, limits, true);
  }
  // An op that splits its work must still find a split that fits one binding per dispatch.
  if (split && op.checkSplit) {
    op.checkSplit(
      inputs.map((t) => ({ shape: t.shape, dtype: t.dtype })),
      attrs,
      limits,
    );
  }
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
