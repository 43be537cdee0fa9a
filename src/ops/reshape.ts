// reshape: a view with a new shape over the same storage (no kernel); flatten is reshape to [N, rest].
import { ShapeError, fmtShape } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { sizeOf, type OpDef } from './types.js';

interface ReshapeAttrs {
  shape: readonly number[];
}

/** Resolves one -1 in `shape` against `size`; throws if the sizes do not match. */
function resolveShape(op: string, from: readonly number[], shape: readonly number[]): number[] {
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1 || shape.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new ShapeError(
      `${op}: argument 'shape' ${fmtShape(shape)} must hold non-negative integers and at most one -1`,
    );
  }
  const known = sizeOf(shape.filter((d) => d !== -1));
  const size = sizeOf(from);
  const out = shape.map((d) => (d === -1 ? (known === 0 ? 0 : size / known) : d));
  if (sizeOf(out) !== size || !out.every(Number.isInteger)) {
    throw new ShapeError(`${op}: cannot view ${fmtShape(from)} (${size} elements) as ${fmtShape(shape)}`);
  }
  return out;
}

export const reshapeOp: OpDef<ReshapeAttrs> = {
  name: 'reshape',
  check: ([x], { shape }) => [{ shape: resolveShape('reshape', x.shape, shape), dtype: x.dtype }],
  forward: 'alias',
  backward: [({ inputs, dys }) => reshape(dys[0]!, inputs[0].shape)],
  cost: () => ({ flops: 0, bytes: 0 }),
  reference: ([x], { shape }) => [{ shape: resolveShape('reshape', x.shape, shape), data: x.data }],
};

/** Shapes: x any → `shape` with the same element count (one entry may be -1). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  if (!Array.isArray(shape))
    throw new ShapeError(
      `reshape: argument 'shape' must be an array of sizes, got ${JSON.stringify(shape) ?? String(shape)}`,
    );
  return apply(reshapeOp, [x], { shape: [...shape] }, ['x']);
}

/** Shapes: x [N, ...] → [N, product of the rest]. */
export function flatten(x: Tensor): Tensor {
  if (x.rank < 1) throw new ShapeError(`flatten: argument 'x' must have rank >= 1, got ${fmtShape(x.shape)}`);
  return reshape(x, [x.shape[0], -1]);
}
