// Binary arithmetic with NumPy broadcasting and number operands: add, sub, mul, div, pow, maximum, minimum.
import type { Tensor } from '../graph/tensor.js';
import { applyNamed, namedOpDef } from './elementwise/named.js';

const AB = ['a', 'b'];
const both = [true, true];

// A same-shape add of two tensors can also run in the store of the kernel producing either one (a residual add).
export const addOp = { ...namedOpDef('add', AB, both), asEpilogue: 'add' as const };
export const subOp = namedOpDef('sub', AB, both);
export const mulOp = namedOpDef('mul', AB, both);
export const divOp = namedOpDef('div', AB, both);
export const powOp = namedOpDef('pow', AB, both);
export const maximumOp = namedOpDef('maximum', AB, both);
export const minimumOp = namedOpDef('minimum', AB, both);

/** Shapes: a, b broadcast together (NumPy rules; a number is a scalar) → the broadcast shape. a + b. */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(addOp, AB, [a, b]);
}

/** Shapes: as `add`. a - b. */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(subOp, AB, [a, b]);
}

/** Shapes: as `add`. a * b. */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(mulOp, AB, [a, b]);
}

/** Shapes: as `add`. a / b (IEEE: x / 0 is ±Infinity, 0 / 0 NaN). */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(divOp, AB, [a, b]);
}

/** Shapes: as `add`. a ** b; a negative base needs an integer exponent (NaN otherwise, as PyTorch). */
export function pow(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(powOp, AB, [a, b]);
}

/** Shapes: as `add`. The larger of a and b; NaN if either is NaN (PyTorch). Gradient to a on ties (tfjs). */
export function maximum(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(maximumOp, AB, [a, b]);
}

/** Shapes: as `add`. The smaller of a and b; NaN propagates as in `maximum`. */
export function minimum(a: Tensor | number, b: Tensor | number): Tensor {
  return applyNamed(minimumOp, AB, [a, b]);
}
