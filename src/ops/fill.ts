// fill: a tensor of one repeated value, computed on the GPU (used for gradient seeds and zero gradients).
import { ShapeError, fmtShape } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { sizeOf, type OpDef } from './types.js';
import { ELEMENTWISE_WG, workgroupsFor } from './util.js';

interface FillAttrs {
  shape: readonly number[];
  value: number;
}

export const fillOp: OpDef<FillAttrs> = {
  name: 'fill',
  check(_inputs, { shape }) {
    if (shape.some((d) => !Number.isInteger(d) || d < 0))
      throw new ShapeError(`fill: bad shape ${fmtShape(shape)}`);
    return [{ shape, dtype: 'float32' }];
  },
  forward(io, { value }) {
    const n = io.outputs[0].spec.shape.reduce((a, b) => a * b, 1);
    return [
      {
        shader: 'fill',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [n, { f32: value }],
        buffers: [io.outputs[0].buffer],
        workgroups: workgroupsFor(n),
      },
    ];
  },
  backward: [],
  cost: (_inputs, { shape }) => ({ flops: 0, bytes: sizeOf(shape) * 4 }),
  reference: (_inputs, { shape, value }) => [{ shape, data: new Float64Array(sizeOf(shape)).fill(value) }],
};

/** A lazily computed tensor of `shape` filled with `value`. */
export function fill(shape: readonly number[], value: number): Tensor {
  return apply(fillOp, [], { shape: [...shape], value });
}
