// scale: multiplies every element by a constant (one generated kernel; the constant is a uniform).
import { ArgumentError } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { exprOpDef } from './elementwise/op.js';
import { call, input, num } from './elementwise/expr.js';

interface ScaleAttrs {
  s: number;
}

const base = exprOpDef<ScaleAttrs>('scale', ({ s }) => call('mul', input(0), num(s)), [true], ['x']);

export const scaleOp: typeof base = {
  ...base,
  check(inputs, attrs) {
    if (!Number.isFinite(attrs.s))
      throw new ArgumentError(`scale: argument 's' must be finite, got ${attrs.s}`);
    return base.check(inputs, attrs);
  },
};

/**
 * Shapes: x any → same shape. out = x * s.
 */
export function scale(x: Tensor, s: number): Tensor {
  return apply(scaleOp, [x], { s }, ['x']);
}
