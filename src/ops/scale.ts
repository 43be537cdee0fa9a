// scale: multiplies every element by a constant.
import { ArgumentError } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { refMap } from '../reference/elementwise.js';
import { sizeOf, type OpDef } from './types.js';
import { elementwiseDispatch, expectFloat } from './util.js';

interface ScaleAttrs {
  s: number;
}

export const scaleOp: OpDef<ScaleAttrs> = {
  name: 'scale',
  check([x], { s }) {
    expectFloat('scale', 'x', x);
    if (!Number.isFinite(s)) throw new ArgumentError(`scale: argument 's' must be finite, got ${s}`);
    return [x];
  },
  forward(io, { s }) {
    const n = sizeOf(io.inputs[0].spec.shape);
    return [elementwiseDispatch('scale', [io.inputs[0].buffer, io.outputs[0].buffer], n, [{ f32: s }])];
  },
  backward: [({ dys, attrs }) => scale(dys[0]!, attrs.s)],
  cost: ([x]) => ({ flops: sizeOf(x.shape), bytes: 8 * sizeOf(x.shape) }),
  reference: ([x], { s }) => [refMap(x, (v) => v * s)],
};

/**
 * Shapes: x any → same shape. out = x * s.
 */
export function scale(x: Tensor, s: number): Tensor {
  return apply(scaleOp, [x], { s }, ['x']);
}
