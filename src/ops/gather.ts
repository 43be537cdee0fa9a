// gather (tfjs's gather, PyTorch's index_select) along one axis with int32 indices, and its backward pass.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { checkOptionKeys } from '../options.js';
import { refGather, refGatherBackward } from '../reference/shape.js';
import { sizeOf, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, workgroupsFor } from './util.js';

interface GatherAttrs {
  axis: number;
}

/** llvmpipe ends shader loops after 65,535 iterations; the backward pass loops over the indices. */
const MAX_BACKWARD_INDICES = 65_535;

function view(shape: readonly number[], axis: number) {
  return { outer: sizeOf(shape.slice(0, axis)), d: shape[axis], inner: sizeOf(shape.slice(axis + 1)) };
}

function gatherShape(x: TensorSpec, indices: TensorSpec, axis: number): number[] {
  return [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
}

export const gatherOp: OpDef<GatherAttrs> = {
  name: 'gather',
  check([x, indices], { axis }) {
    expectFloat('gather', 'x', x);
    if (indices.dtype !== 'int32')
      throw new ShapeError(`gather: argument 'indices' must be int32, got ${indices.dtype}`);
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length)
      throw new ShapeError(`gather: argument 'axis' ${axis} is not an axis of ${fmtShape(x.shape)}`);
    return [{ shape: gatherShape(x, indices, axis), dtype: 'float32' }];
  },
  forward(io, { axis }) {
    const [x, indices] = io.inputs;
    const { outer, d, inner } = view(x.spec.shape, axis);
    const j = sizeOf(indices.spec.shape);
    const { flags, slot } = io.check(
      (k) =>
        new ArgumentError(
          `gather: indices[${k}] is outside [0, ${d}) (axis ${axis} of ${fmtShape(x.spec.shape)})`,
        ),
    );
    return [
      {
        shader: 'gather',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [outer, d, inner, j, slot],
        buffers: [x.buffer, indices.buffer, io.outputs[0].buffer, flags],
        workgroups: workgroupsFor(outer * j * inner),
      },
    ];
  },
  backward: [
    ({ inputs: [x, indices], dys, attrs }) =>
      apply(gatherBackwardOp, [dys[0]!, indices], { axis: attrs.axis, shape: [...x.shape] }, [
        'dy',
        'indices',
      ]),
    null,
  ],
  cost: ([x, indices], { axis }) => {
    const n = sizeOf(gatherShape(x, indices, axis));
    return { flops: 0, bytes: 8 * n + 4 * sizeOf(indices.shape) };
  },
  reference: ([x, indices], { axis }) => [refGather(x, indices, axis)],
};

interface GatherBackwardAttrs extends GatherAttrs {
  /** x's shape. */
  shape: readonly number[];
}

export const gatherBackwardOp: OpDef<GatherBackwardAttrs> = {
  name: 'gatherBackward',
  check([dy, indices], { axis, shape }) {
    const j = sizeOf(indices.shape);
    if (j > MAX_BACKWARD_INDICES)
      throw new ShapeError(
        `gatherBackward: the gradient of gather supports at most ${MAX_BACKWARD_INDICES} indices, got ${j}`,
      );
    const expected = [...shape.slice(0, axis), ...indices.shape, ...shape.slice(axis + 1)];
    if (dy.shape.length !== expected.length || dy.shape.some((v, i) => v !== expected[i]))
      throw new ShapeError(`gatherBackward: dy ${fmtShape(dy.shape)} must be ${fmtShape(expected)}`);
    return [{ shape: [...shape], dtype: 'float32' }];
  },
  forward(io, { axis, shape }) {
    const { outer, d, inner } = view(shape, axis);
    const j = sizeOf(io.inputs[1].spec.shape);
    return [
      {
        shader: 'gather_backward',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [outer, d, inner, j],
        buffers: [io.inputs[0].buffer, io.inputs[1].buffer, io.outputs[0].buffer],
        workgroups: workgroupsFor(outer * d * inner),
      },
    ];
  },
  backward: null,
  cost: ([dy, indices], { shape }) => ({
    flops: sizeOf(shape) * sizeOf(indices.shape),
    bytes: 4 * (sizeOf(shape) + sizeOf(dy.shape)),
  }),
  reference: ([dy, indices], { axis, shape }) => [refGatherBackward(dy, indices, shape, axis)],
};

export interface GatherOptions {
  /** The axis of x to index (default 0); negative counts from the end. */
  axis?: number;
}

/**
 * Shapes: x [..., D at axis, ...], indices int32 any shape I → [..., I, ...]. An index outside [0, D) fails the
 * flush's reads with ArgumentError (checked on the device).
 */
export function gather(x: Tensor, indices: Tensor, options: GatherOptions = {}): Tensor {
  checkOptionKeys('gather', options, ['axis']);
  const raw = options.axis ?? 0;
  const axis = typeof raw === 'number' && raw < 0 ? raw + (x?.rank ?? 0) : raw;
  return apply(gatherOp, [x, indices], { axis }, ['x', 'indices']);
}

/** PyTorch's name: gather along `axis` with a 1-D index tensor. */
export function indexSelect(x: Tensor, axis: number, indices: Tensor): Tensor {
  if (indices?.rank !== 1) throw new ShapeError(`indexSelect: argument 'indices' must be 1-D`);
  return gather(x, indices, { axis });
}
