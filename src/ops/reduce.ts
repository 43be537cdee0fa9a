// sum and mean over adjacent axes (two-pass when long), and broadcast, the pass their backward uses.
import { ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply } from '../graph/record.js';
import { checkOptionKeys } from '../options.js';
import type { Tensor } from '../graph/tensor.js';
import { refBroadcast, refReduce } from '../reference/elementwise.js';
import { reshape } from './reshape.js';
import { sizeOf, type KernelIO, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, middleAxes, workgroupsFor } from './util.js';

export interface ReduceAttrs {
  /** Axes to reduce, adjacent; default all. Negative axes count from the end. */
  axis?: number | readonly number[];
  /** Keep reduced axes with length 1 (default false). */
  keepDims?: boolean;
}

function reducedShape(op: string, x: TensorSpec, attrs: ReduceAttrs): number[] {
  const { axes } = middleAxes(op, x.shape, attrs.axis);
  return x.shape.flatMap((d, i) => (axes.includes(i) ? (attrs.keepDims ? [1] : []) : [d]));
}

/** Below this many outputs a long reduction is split in two passes so enough invocations run at once. */
const PARALLEL_OUTPUTS = 1024;
/** llvmpipe silently ends any shader loop after 65,535 iterations, so no invocation sums more terms. */
const MAX_LOOP = 65_535;

function reducePlan(io: KernelIO, outer: number, r: number, inner: number, scale: number): Dispatch[] {
  const dispatches: Dispatch[] = [];
  let src = io.inputs[0].buffer;
  let length = r;
  let s = scale;
  for (;;) {
    const wide = outer * inner >= PARALLEL_OUTPUTS || length <= 64;
    const chunk = Math.min(MAX_LOOP, wide ? Math.max(1, length) : Math.ceil(Math.sqrt(length)));
    const groups = Math.max(1, Math.ceil(length / chunk));
    const dst = groups === 1 ? io.outputs[0].buffer : io.scratch(outer * groups * inner * 4);
    dispatches.push({
      shader: 'reduce_sum',
      constants: { WG: ELEMENTWISE_WG },
      uniforms: [outer, length, inner, chunk, groups, { f32: s }],
      buffers: [src, dst],
      workgroups: workgroupsFor(outer * groups * inner),
    });
    if (groups === 1) return dispatches;
    src = dst;
    length = groups;
    s = 1;
  }
}

function reduceOp(name: 'sum' | 'mean'): OpDef<ReduceAttrs> {
  const scaleOf = (x: TensorSpec | { shape: readonly number[] }, attrs: ReduceAttrs) =>
    name === 'sum' ? 1 : 1 / Math.max(1, middleAxes(name, x.shape, attrs.axis).r);
  return {
    name,
    check([x], attrs) {
      expectFloat(name, 'x', x);
      return [{ shape: reducedShape(name, x, attrs), dtype: 'float32' }];
    },
    forward(io, attrs) {
      const x = io.inputs[0].spec;
      const { outer, r, inner } = middleAxes(name, x.shape, attrs.axis);
      return reducePlan(io, outer, r, inner, scaleOf(x, attrs));
    },
    backward: [
      ({ inputs: [x], dys, attrs }) => {
        const { outer, r, inner } = middleAxes(name, x.shape, attrs.axis);
        return broadcast(dys[0]!, { outer, r, inner, scale: scaleOf(x, attrs), shape: x.shape });
      },
    ],
    cost: ([x]) => ({ flops: sizeOf(x.shape), bytes: 4 * sizeOf(x.shape) }),
    reference([x], attrs) {
      const { outer, r, inner } = middleAxes(name, x.shape, attrs.axis);
      return [
        refReduce(
          x,
          outer,
          r,
          inner,
          scaleOf(x, attrs),
          reducedShape(name, { ...x, dtype: 'float32' }, attrs),
        ),
      ];
    },
  };
}

export const sumOp = reduceOp('sum');
export const meanOp = reduceOp('mean');

export interface BroadcastAttrs {
  outer: number;
  r: number;
  inner: number;
  scale: number;
  /** Shape of the result, [outer, r, inner] elements in total. */
  shape: readonly number[];
}

export const broadcastOp: OpDef<BroadcastAttrs> = {
  name: 'broadcast',
  check([x], { outer, r, inner, shape }) {
    expectFloat('broadcast', 'x', x);
    if (sizeOf(x.shape) !== outer * inner || sizeOf(shape) !== outer * r * inner) {
      throw new ShapeError(
        `broadcast: cannot repeat ${fmtShape(x.shape)} ${r} times into ${fmtShape(shape)}`,
      );
    }
    return [{ shape, dtype: 'float32' }];
  },
  forward(io, { outer, r, inner, scale }) {
    return [
      {
        shader: 'broadcast',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [outer, r, inner, { f32: scale }],
        buffers: [io.inputs[0].buffer, io.outputs[0].buffer],
        workgroups: workgroupsFor(outer * r * inner),
      },
    ];
  },
  backward: [
    ({ inputs: [x], dys, attrs }) =>
      reshape(apply(sumOp, [reshape(dys[0]!, [attrs.outer, attrs.r, attrs.inner])], { axis: 1 }), x.shape),
  ],
  cost: (_inputs, { shape }) => ({ flops: 0, bytes: 8 * sizeOf(shape) }),
  reference: ([x], { outer, r, inner, scale, shape }) => [refBroadcast(x, outer, r, inner, scale, shape)],
};

/** Repeats x ([outer, inner] elements) along a middle axis, times `scale`. */
export function broadcast(x: Tensor, attrs: BroadcastAttrs): Tensor {
  return apply(broadcastOp, [x], attrs, ['x']);
}

/** Shapes: x any → x without the reduced axes (or with length 1 there, with keepDims). */
export function sum(x: Tensor, attrs: ReduceAttrs = {}): Tensor {
  checkOptionKeys('sum', attrs, ['axis', 'keepDims']);
  return apply(sumOp, [x], attrs, ['x']);
}

/** Shapes: x any → x without the reduced axes (or with length 1 there, with keepDims). */
export function mean(x: Tensor, attrs: ReduceAttrs = {}): Tensor {
  checkOptionKeys('mean', attrs, ['axis', 'keepDims']);
  return apply(meanOp, [x], attrs, ['x']);
}
