// Comparisons producing float32 masks (1 where true, 0 where false) and where(cond, a, b).
import type { Tensor } from '../graph/tensor.js';
import { applyNamed, namedOpDef } from './elementwise/named.js';
import type { CompareName } from './elementwise/expr.js';

const AB = ['a', 'b'];
const CAB = ['condition', 'a', 'b'];
const compareDef = (fn: CompareName) => namedOpDef(fn, AB, [false, false]);

export const greaterOp = compareDef('greater');
export const greaterEqualOp = compareDef('greaterEqual');
export const lessOp = compareDef('less');
export const lessEqualOp = compareDef('lessEqual');
export const equalOp = compareDef('equal');
export const notEqualOp = compareDef('notEqual');
export const whereOp = namedOpDef('where', CAB, [false, true, true]);

/** Shapes: a, b broadcast together → the broadcast shape; 1 where a > b, else 0 (also for NaN). */
export function greater(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(greaterOp, AB, [a, b]);
}
/** Shapes: as `greater`. a >= b. */
export function greaterEqual(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(greaterEqualOp, AB, [a, b]);
}
/** Shapes: as `greater`. a < b. */
export function less(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(lessOp, AB, [a, b]);
}
/** Shapes: as `greater`. a <= b. */
export function lessEqual(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(lessEqualOp, AB, [a, b]);
}
/** Shapes: as `greater`. a == b. */
export function equal(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(equalOp, AB, [a, b]);
}
/** Shapes: as `greater`. a != b (1 for NaN). */
export function notEqual(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(notEqualOp, AB, [a, b]);
}

/**
 * Shapes: condition, a, b broadcast together → the broadcast shape. a where condition != 0, else b.
 * Gradients reach a and b through the mask; condition gets none.
 */
export function where(condition: Tensor | number, a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(whereOp, CAB, [condition, a, b]);
}
