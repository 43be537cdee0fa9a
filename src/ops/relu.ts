// relu (a generated elementwise kernel) and its backward pass, which masks the output gradient by the saved output.
import { ShapeError, fmtShape } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { refMap } from '../reference/elementwise.js';
import { namedOpDef, type NamedAttrs } from './elementwise/named.js';
import { sizeOf, type OpDef } from './types.js';
import { elementwiseDispatch, expectFloat } from './util.js';

type NoAttrs = Record<string, never>;

const generated = namedOpDef('relu', ['x'], [true]);

/** relu as a generated kernel (NaN stays NaN, as PyTorch); the scheduler may run it inside its producer. */
export const reluOp: OpDef<NamedAttrs> = {
  ...generated,
  asEpilogue: 'relu',
  backward: [({ outputs, dys }) => reluBackward(dys[0]!, outputs[0])],
};

export const reluBackwardOp: OpDef<NoAttrs> = {
  name: 'reluBackward',
  check([dy, y]) {
    expectFloat('reluBackward', 'dy', dy);
    if (sizeOf(dy.shape) !== sizeOf(y.shape)) {
      throw new ShapeError(`reluBackward: dy ${fmtShape(dy.shape)} and y ${fmtShape(y.shape)} must match`);
    }
    return [dy];
  },
  forward(io) {
    const buffers = [io.inputs[0].buffer, io.inputs[1].buffer, io.outputs[0].buffer];
    return [elementwiseDispatch('relu_backward', buffers, sizeOf(io.inputs[0].spec.shape))];
  },
  backward: null,
  cost: ([dy]) => ({ flops: sizeOf(dy.shape), bytes: 12 * sizeOf(dy.shape) }),
  reference: ([dy, y]) => [refMap(dy, (v, i) => (y.data[i] > 0 ? v : 0))],
};

/** Shapes: x any → same shape. */
export function relu(x: Tensor): Tensor {
  return apply(reluOp, [x], {}, ['x']);
}

/** The backward pass of relu: dx = dy where y > 0. Shapes: dy, y same shape → same shape. */
export function reluBackward(dy: Tensor, y: Tensor): Tensor {
  return apply(reluBackwardOp, [dy, y], {}, ['dy', 'y']);
}
