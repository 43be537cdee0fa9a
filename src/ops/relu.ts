// relu and its backward pass (a mask of the output gradient by the saved output), both generated elementwise kernels.
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { exprOpDef } from './elementwise/op.js';
import { namedOpDef, type NamedAttrs } from './elementwise/named.js';
import { call, input, num } from './elementwise/expr.js';
import type { OpDef } from './types.js';

type NoAttrs = Record<string, never>;

const generated = namedOpDef('relu', ['x'], [true]);

/** relu as a generated kernel (NaN stays NaN, as PyTorch); the scheduler may run it inside its producer. */
export const reluOp: OpDef<NamedAttrs> = {
  ...generated,
  asEpilogue: 'relu',
  backward: [({ outputs, dys }) => reluBackward(dys[0]!, outputs[0])],
};

/**
 * dx = dy where y > 0, else 0 (y is relu's output, so the mask needs no x; a NaN y masks to 0). The 'reluMask'
 * fusion pass applies this mask inside the kernels that read dx instead (OpDef.masksInput).
 */
export const reluBackwardOp: OpDef<NoAttrs> = {
  ...exprOpDef<NoAttrs>(
    'reluBackward',
    () => call('where', call('greater', input(1), num(0)), input(0), num(0)),
    [false, false],
    ['dy', 'y'],
  ),
  // A backward pass: differentiating through it again is refused, as for every other backward op.
  backward: null,
};

/** Shapes: x any → same shape. */
export function relu(x: Tensor): Tensor {
  return apply(reluOp, [x], {}, ['x']);
}

/** The backward pass of relu: dx = dy where y > 0. Shapes: dy, y broadcast together (same shape) → that shape. */
export function reluBackward(dy: Tensor, y: Tensor): Tensor {
  return apply(reluBackwardOp, [dy, y], {}, ['dy', 'y']);
}
