// add, sub and mul: same shapes, or a shorter operand repeated along the leading axes (bias, scalar).
import { ShapeError, fmtShape } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { refBinary } from '../reference/elementwise.js';
import { reshape } from './reshape.js';
import { sum } from './reduce.js';
import { scale } from './scale.js';
import { sizeOf, type BackwardRule, type OpDef, type TensorSpec } from './types.js';
import { RELU_ACTIVATION, elementLanes } from './lanes.js';
import { ELEMENTWISE_WG, expectFloat, workgroupsFor } from './util.js';

type NoAttrs = Record<string, never>;

/** Whether `short`, without its leading ones, ends `long` (so it repeats along long's leading axes). */
function isSuffix(long: readonly number[], short: readonly number[]): boolean {
  const core = stripLeadingOnes(short);
  return short.length <= long.length && core.every((d, i) => d === long[long.length - core.length + i]);
}

function stripLeadingOnes(shape: readonly number[]): readonly number[] {
  const first = shape.findIndex((d) => d !== 1);
  return first < 0 ? [] : shape.slice(first);
}

/** Shape of a binary op's result: equal shapes, a one-element operand, or one shape a suffix of the other. */
export function broadcastShape(op: string, a: TensorSpec, b: TensorSpec): readonly number[] {
  expectFloat(op, 'a', a);
  expectFloat(op, 'b', b);
  if (sizeOf(b.shape) === 1 && a.shape.length >= b.shape.length) return a.shape;
  if (sizeOf(a.shape) === 1 && b.shape.length >= a.shape.length) return b.shape;
  if (isSuffix(a.shape, b.shape)) return a.shape;
  if (isSuffix(b.shape, a.shape)) return b.shape;
  throw new ShapeError(
    `${op}: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} must be equal, or one a trailing part of the other, or one element`,
  );
}

/** Sums a gradient over the axes that broadcasting repeated, back to the operand's shape. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.shape.length - stripLeadingOnes(shape).length;
  const reduced = lead === 0 ? g : sum(g, { axis: Array.from({ length: lead }, (_, i) => i) });
  return reshape(reduced, shape);
}

function binaryOp(
  name: string,
  code: number,
  f: (x: number, y: number) => number,
  backward: [BackwardRule<NoAttrs>, BackwardRule<NoAttrs>],
): OpDef<NoAttrs> {
  return {
    name,
    check: ([a, b]) => [{ shape: broadcastShape(name, a, b), dtype: 'float32' }],
    forward(io) {
      const [a, b] = io.inputs;
      const n = sizeOf(io.outputs[0].spec.shape);
      const aLen = Math.max(1, sizeOf(a.spec.shape));
      const bLen = Math.max(1, sizeOf(b.spec.shape));
      const { lanes, regions } = elementLanes(n, aLen, bLen);
      return [
        {
          shader: 'binary',
          constants: {
            WG: ELEMENTWISE_WG,
            OP: code,
            A_REPEATS: aLen < n ? 1 : 0,
            B_REPEATS: bLen < n ? 1 : 0,
          },
          regions: io.relu ? { ...regions, ACTIVATION: RELU_ACTIVATION } : regions,
          uniforms: [n / lanes, aLen / lanes, bLen / lanes],
          buffers: [a.buffer, b.buffer, io.outputs[0].buffer],
          workgroups: workgroupsFor(n / lanes),
        },
      ];
    },
    epilogues: ['relu'],
    backward,
    cost: ([a, b]) => {
      const n = Math.max(sizeOf(a.shape), sizeOf(b.shape));
      return { flops: n, bytes: 4 * (sizeOf(a.shape) + sizeOf(b.shape) + n) };
    },
    reference: ([a, b]) => [refBinary(a, b, f)],
  };
}

export const addOp = binaryOp('add', 0, (x, y) => x + y, [
  ({ inputs, dys }) => sumToShape(dys[0]!, inputs[0].shape),
  ({ inputs, dys }) => sumToShape(dys[0]!, inputs[1].shape),
]);

export const subOp = binaryOp('sub', 1, (x, y) => x - y, [
  ({ inputs, dys }) => sumToShape(dys[0]!, inputs[0].shape),
  ({ inputs, dys }) => sumToShape(scale(dys[0]!, -1), inputs[1].shape),
]);

export const mulOp = binaryOp('mul', 2, (x, y) => x * y, [
  ({ inputs, dys }) => sumToShape(mul(dys[0]!, inputs[1]), inputs[0].shape),
  ({ inputs, dys }) => sumToShape(mul(dys[0]!, inputs[0]), inputs[1].shape),
]);

/** Shapes: a, b equal, or one a trailing part of the other (e.g. [N,H,W,C] + [C]), or one element. */
export function add(a: Tensor, b: Tensor): Tensor {
  return apply(addOp, [a, b], {}, ['a', 'b']);
}

/** Shapes: as `add`. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return apply(subOp, [a, b], {}, ['a', 'b']);
}

/** Shapes: as `add`. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return apply(mulOp, [a, b], {}, ['a', 'b']);
}
