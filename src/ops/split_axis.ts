// split along one axis as one op with an output per piece (one copy dispatch each), so its gradient is one concat.
import { ShapeError, fmtShape } from '../errors.js';
import { record } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { refSlice } from '../reference/concat.js';
import { concat, copyRows } from './concat.js';
import { fill } from './fill.js';
import { sizeOf, type OpDef } from './types.js';
import { expectFloat } from './util.js';

interface SplitAttrs {
  /** Non-negative axis. */
  axis: number;
  /** Length of each piece along the axis; they sum to x's extent there. */
  sizes: readonly number[];
}

/**
 * Pieces of x along `axis`. Split as slices, each piece's gradient would be a zero-padded copy of all of x and
 * the pieces' gradients would be added on x: O(pieces) full-size passes (a grouped conv's 32 groups cost 64 such
 * pads and 62 adds). As one op, x's gradient is the concat of the pieces' gradients (zeros where none arrived).
 */
export const splitAxisOp: OpDef<SplitAttrs> = {
  name: 'splitAxis',
  check([x], { axis, sizes }) {
    expectFloat('split', 'x', x);
    const total = sizes.reduce((s, n) => s + n, 0);
    if (
      axis >= x.shape.length ||
      sizes.some((n) => !Number.isInteger(n) || n < 0) ||
      total !== x.shape[axis]
    ) {
      throw new ShapeError(
        `split: sizes ${JSON.stringify(sizes)} must be integers >= 0 summing to axis ${axis} of x ${fmtShape(x.shape)}`,
      );
    }
    return sizes.map((n) => ({
      shape: x.shape.map((d, k) => (k === axis ? n : d)),
      dtype: 'float32' as const,
    }));
  },
  forward(io, { axis, sizes }) {
    const shape = io.inputs[0].spec.shape;
    const outer = sizeOf(shape.slice(0, axis));
    const inner = sizeOf(shape.slice(axis + 1));
    const stride = shape[axis] * inner;
    let offset = 0;
    return sizes.flatMap((n, i) => {
      const len = n * inner;
      const from = { stride, offset };
      offset += len;
      if (len === 0 || outer === 0) return [];
      return [
        copyRows(io.inputs[0].buffer, io.outputs[i].buffer, outer, len, from, { stride: len, offset: 0 }),
      ];
    });
  },
  backward: [
    ({ outputs, dys, attrs }) =>
      concat(
        outputs.map((y, i) => dys[i] ?? fill(y.shape, 0)),
        attrs.axis,
      ),
  ],
  cost: ([x]) => ({ flops: 0, bytes: 8 * sizeOf(x.shape) }),
  reference: ([x], { axis, sizes }) => {
    let start = 0;
    return sizes.map((n) => {
      const piece = refSlice(x, axis, start, n);
      start += n;
      return piece;
    });
  },
};

/**
 * Cuts x along `axis` (non-negative) into pieces of the given lengths.
 * Shapes: x [..., D at axis, ...] → one tensor per length, that length at axis; the lengths sum to D.
 */
export function splitAxis(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  return record(splitAxisOp, [x], { axis, sizes: [...sizes] }, ['x']);
}
