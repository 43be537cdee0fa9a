// Reductions over any set of axes with keepDims: sum, mean, max, min (one kernel pass per run of adjacent
// axes, two passes when long), argmax/argmin along one axis, and broadcastTo, the pass their backward uses.
import { ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply } from '../graph/record.js';
import { checkOptionKeys } from '../options.js';
import type { Tensor } from '../graph/tensor.js';
import { refElementwise } from '../reference/expr.js';
import { refArgReduce, refReduceAxes } from '../reference/reduce.js';
import { broadcastView, elementwiseKernel } from './elementwise/codegen.js';
import { call, input, num } from './elementwise/expr.js';
import { reshape } from './reshape.js';
import { sizeOf, type KernelIO, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, workgroupsFor } from './util.js';

export interface ReduceAttrs {
  /** Axes to reduce, any set; default all. Negative axes count from the end. */
  axis?: number | readonly number[];
  /** Keep reduced axes with length 1 (default false). */
  keepDims?: boolean;
}

/** Sorted, distinct, non-negative axes; throws ShapeError naming op, the axis argument and the shape. */
export function normalizeAxes(
  op: string,
  shape: readonly number[],
  axis: number | readonly number[] | undefined,
): number[] {
  const rank = shape.length;
  const raw = axis === undefined ? shape.map((_, i) => i) : typeof axis === 'number' ? [axis] : axis;
  if (!Array.isArray(raw) && typeof axis !== 'number') {
    throw new ShapeError(
      `${op}: argument 'axis' must be a number or an array of numbers, got ${String(axis)}`,
    );
  }
  const axes = raw.map((a) => (a < 0 ? a + rank : a)).sort((x, y) => x - y);
  axes.forEach((a, i) => {
    if (!Number.isInteger(a) || a < 0 || a >= rank || (i > 0 && a === axes[i - 1])) {
      throw new ShapeError(
        `${op}: argument 'axis' must be distinct axes of shape ${fmtShape(shape)}, got ${JSON.stringify(axis)}`,
      );
    }
  });
  return axes;
}

/** x's shape without the reduced axes, or with 1 there. */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  return shape.flatMap((d, i) => (axes.includes(i) ? (keepDims ? [1] : []) : [d]));
}

/** Runs of adjacent axes, last run first: each is one [outer, r, inner] pass over the shape left so far. */
function passes(
  shape: readonly number[],
  axes: readonly number[],
): { outer: number; r: number; inner: number }[] {
  const runs: number[][] = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1] === a - 1) last.push(a);
    else runs.push([a]);
  }
  const current = [...shape];
  return runs.reverse().map((run) => {
    const first = run[0];
    const stop = run[run.length - 1] + 1;
    const pass = {
      outer: sizeOf(current.slice(0, first)),
      r: sizeOf(current.slice(first, stop)),
      inner: sizeOf(current.slice(stop)),
    };
    current.splice(first, stop - first, 1);
    return pass;
  });
}

/** Below this many outputs a long reduction is split in two passes so enough invocations run at once. */
const PARALLEL_OUTPUTS = 1024;
/** llvmpipe silently ends any shader loop after 65,535 iterations, so no invocation reduces more terms. */
const MAX_LOOP = 65_535;

function chunking(outer: number, length: number, inner: number): { chunk: number; groups: number } {
  const wide = outer * inner >= PARALLEL_OUTPUTS || length <= 64;
  const chunk = Math.min(MAX_LOOP, wide ? Math.max(1, length) : Math.ceil(Math.sqrt(length)));
  return { chunk, groups: Math.max(1, Math.ceil(length / chunk)) };
}

const REDUCE_OP = { sum: 0, mean: 0, max: 1, min: 2 } as const;
type ReduceName = keyof typeof REDUCE_OP;

/** Dispatches reducing `src` over [outer, r, inner] into `dst` (chunked passes through scratch when long). */
function reducePasses(
  io: KernelIO,
  op: ReduceName,
  src: GPUBuffer,
  dst: GPUBuffer,
  { outer, r, inner }: { outer: number; r: number; inner: number },
  scale: number,
): Dispatch[] {
  const dispatches: Dispatch[] = [];
  let length = r;
  let s = scale;
  for (;;) {
    const { chunk, groups } = chunking(outer, length, inner);
    const to = groups === 1 ? dst : io.scratch(outer * groups * inner * 4);
    dispatches.push({
      shader: 'reduce',
      constants: { WG: ELEMENTWISE_WG, OP: REDUCE_OP[op] },
      uniforms: [outer, length, inner, chunk, groups, { f32: s }],
      buffers: [src, to],
      workgroups: workgroupsFor(outer * groups * inner),
    });
    if (groups === 1) return dispatches;
    src = to;
    length = groups;
    s = 1;
  }
}

function reduceOp(name: ReduceName): OpDef<ReduceAttrs> {
  const count = (shape: readonly number[], attrs: ReduceAttrs) =>
    sizeOf(normalizeAxes(name, shape, attrs.axis).map((a) => shape[a]));
  const scaleOf = (shape: readonly number[], attrs: ReduceAttrs) =>
    name === 'mean' ? 1 / Math.max(1, count(shape, attrs)) : 1;
  return {
    name,
    check([x], attrs) {
      expectFloat(name, 'x', x);
      const axes = normalizeAxes(name, x.shape, attrs.axis);
      if ((name === 'max' || name === 'min') && axes.some((a) => x.shape[a] === 0)) {
        throw new ShapeError(`${name}: cannot reduce an empty axis of ${fmtShape(x.shape)}`);
      }
      return [{ shape: reducedShape(x.shape, axes, attrs.keepDims ?? false), dtype: 'float32' }];
    },
    forward(io, attrs) {
      const shape = io.inputs[0].spec.shape;
      const list = passes(shape, normalizeAxes(name, shape, attrs.axis));
      const out = io.outputs[0].buffer;
      if (list.length === 0) {
        const view = broadcastView(shape, shape);
        return [elementwiseKernel(input(0), [{ buffer: io.inputs[0].buffer, view }], { buffer: out, shape })];
      }
      const dispatches: Dispatch[] = [];
      let src = io.inputs[0].buffer;
      list.forEach((pass, k) => {
        const last = k === list.length - 1;
        const dst = last ? out : io.scratch(pass.outer * pass.inner * 4);
        dispatches.push(...reducePasses(io, name, src, dst, pass, last ? scaleOf(shape, attrs) : 1));
        src = dst;
      });
      return dispatches;
    },
    backward: [
      ({ inputs: [x], outputs: [y], dys, attrs }) => {
        const axes = normalizeAxes(name, x.shape, attrs.axis);
        const keep = reducedShape(x.shape, axes, true);
        const dy = reshape(dys[0]!, keep);
        if (name === 'sum' || name === 'mean') return broadcastTo(dy, x.shape, scaleOf(x.shape, attrs));
        // tfjs's rule: every element equal to the extreme gets the whole gradient.
        const expr = call('where', call('equal', input(0), input(1)), input(2), num(0));
        return apply(maskOp, [x, reshape(y, keep), dy], { expr }, ['x', 'y', 'dy']);
      },
    ],
    cost: ([x]) => ({ flops: sizeOf(x.shape), bytes: 4 * sizeOf(x.shape) }),
    reference([x], attrs) {
      const axes = normalizeAxes(name, x.shape, attrs.axis);
      return [refReduceAxes(x, axes, name, reducedShape(x.shape, axes, attrs.keepDims ?? false))];
    },
  };
}

export const sumOp = reduceOp('sum');
export const meanOp = reduceOp('mean');
export const maxOp = reduceOp('max');
export const minOp = reduceOp('min');

/**
 * The gradient mask of max and min: dx = dy where x equals the broadcast extreme y, else 0 (a backward pass:
 * x, y and dy broadcast together to x's shape).
 */
const maskOp: OpDef<{ expr: ReturnType<typeof call> }> = {
  name: 'reduceMaskBackward',
  check([x, y, dy]) {
    expectFloat('reduceMaskBackward', 'x', x);
    if (y.shape.length !== x.shape.length || dy.shape.length !== x.shape.length)
      throw new ShapeError(`reduceMaskBackward: y and dy must keep x's rank ${fmtShape(x.shape)}`);
    return [x];
  },
  forward(io, { expr }) {
    const shape = io.outputs[0].spec.shape;
    const inputs = io.inputs.map((t) => ({ buffer: t.buffer, view: broadcastView(t.spec.shape, shape) }));
    return [elementwiseKernel(expr, inputs, { buffer: io.outputs[0].buffer, shape })];
  },
  backward: null,
  cost: ([x]) => ({ flops: sizeOf(x.shape), bytes: 12 * sizeOf(x.shape) }),
  reference(inputs, { expr }) {
    const shape = inputs[0].shape;
    return [
      refElementwise(
        expr,
        inputs,
        inputs.map((t) => broadcastView(t.shape, shape)),
        shape,
      ),
    ];
  },
};
export const reduceMaskBackwardOp = maskOp;

export interface ArgReduceAttrs {
  /** The one axis to search (default 0, as tfjs); negative counts from the end. */
  axis?: number;
}

function argOp(name: 'argmax' | 'argmin'): OpDef<ArgReduceAttrs> {
  const axisOf = (x: { shape: readonly number[] }, attrs: ArgReduceAttrs) => {
    if (attrs.axis !== undefined && typeof attrs.axis !== 'number')
      throw new ShapeError(`${name}: argument 'axis' must be one number, got ${JSON.stringify(attrs.axis)}`);
    return normalizeAxes(name, x.shape, attrs.axis ?? 0)[0];
  };
  return {
    name,
    check([x], attrs) {
      expectFloat(name, 'x', x);
      if (x.shape.length === 0) throw new ShapeError(`${name}: argument 'x' must have rank >= 1, got []`);
      const axis = axisOf(x, attrs);
      if (x.shape[axis] === 0)
        throw new ShapeError(`${name}: cannot search an empty axis of ${fmtShape(x.shape)}`);
      return [{ shape: reducedShape(x.shape, [axis], false), dtype: 'int32' }];
    },
    forward(io, attrs) {
      const x = io.inputs[0];
      const axis = axisOf(x.spec, attrs);
      const outer = sizeOf(x.spec.shape.slice(0, axis));
      const inner = sizeOf(x.spec.shape.slice(axis + 1));
      const dispatches: Dispatch[] = [];
      let vals = x.buffer;
      let idxs = x.buffer;
      let length = x.spec.shape[axis];
      for (let first = true; ; first = false) {
        const { chunk, groups } = chunking(outer, length, inner);
        const last = groups === 1;
        const toVals = io.scratch(outer * groups * inner * 4);
        const toIdx = last ? io.outputs[0].buffer : io.scratch(outer * groups * inner * 4);
        dispatches.push({
          shader: 'reduce_arg',
          constants: { WG: ELEMENTWISE_WG, OP: name === 'argmax' ? 0 : 1, FIRST: first ? 1 : 0 },
          uniforms: [outer, length, inner, chunk, groups],
          buffers: [vals, idxs, toVals, toIdx],
          workgroups: workgroupsFor(outer * groups * inner),
        });
        if (last) return dispatches;
        vals = toVals;
        idxs = toIdx;
        length = groups;
      }
    },
    backward: [null],
    cost: ([x]) => ({ flops: sizeOf(x.shape), bytes: 4 * sizeOf(x.shape) }),
    reference: ([x], attrs) => [refArgReduce(x, axisOf(x, attrs), name)],
  };
}

export const argmaxOp = argOp('argmax');
export const argminOp = argOp('argmin');

export interface BroadcastToAttrs {
  shape: readonly number[];
  /** A factor applied on the way (mean's backward divides by the count). */
  scale?: number;
}

export const broadcastToOp: OpDef<BroadcastToAttrs> = {
  name: 'broadcastTo',
  check([x], { shape, scale }) {
    expectFloat('broadcastTo', 'x', x);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0))
      throw new ShapeError(
        `broadcastTo: argument 'shape' must be an array of sizes, got ${JSON.stringify(shape)}`,
      );
    const lead = shape.length - x.shape.length;
    if (lead < 0 || x.shape.some((d, i) => d !== 1 && d !== shape[lead + i])) {
      throw new ShapeError(`broadcastTo: cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
    }
    if (scale !== undefined && !Number.isFinite(scale))
      throw new ShapeError(`broadcastTo: 'scale' must be finite, got ${scale}`);
    return [{ shape: [...shape], dtype: 'float32' }];
  },
  forward(io, { shape, scale }) {
    const x = io.inputs[0];
    const expr = scale === undefined || scale === 1 ? input(0) : call('mul', input(0), num(scale));
    const view = broadcastView(x.spec.shape, shape);
    return [elementwiseKernel(expr, [{ buffer: x.buffer, view }], { buffer: io.outputs[0].buffer, shape })];
  },
  backward: [
    ({ inputs: [x], dys, attrs }) => {
      const lead = attrs.shape.length - x.shape.length;
      const axes = attrs.shape
        .map((d, i) => (i < lead || (x.shape[i - lead] === 1 && d !== 1) ? i : -1))
        .filter((i) => i >= 0);
      const summed = axes.length === 0 ? dys[0]! : sum(dys[0]!, { axis: axes, keepDims: true });
      const g = reshape(summed, x.shape);
      return attrs.scale === undefined || attrs.scale === 1 ? g : broadcastTo(g, x.shape, attrs.scale);
    },
  ],
  cost: (_inputs, { shape }) => ({ flops: 0, bytes: 8 * sizeOf(shape) }),
  reference: ([x], { shape, scale }) => {
    const expr = scale === undefined || scale === 1 ? input(0) : call('mul', input(0), num(scale));
    return [refElementwise(expr, [x], [broadcastView(x.shape, shape)], shape)];
  },
};

/** Shapes: x broadcastable to `shape` (NumPy rules) → `shape`. A copy (times `scale`, default 1). */
export function broadcastTo(x: Tensor, shape: readonly number[], scale?: number): Tensor {
  return apply(
    broadcastToOp,
    [x],
    scale === undefined ? { shape: [...shape] } : { shape: [...shape], scale },
    ['x'],
  );
}

function reducer(op: OpDef<ReduceAttrs>) {
  return (x: Tensor, attrs: ReduceAttrs = {}): Tensor => {
    checkOptionKeys(op.name, attrs, ['axis', 'keepDims']);
    return apply(op, [x], attrs, ['x']);
  };
}

/** Shapes: x any → x without the reduced axes (or with length 1 there, with keepDims). Default: all axes. */
export const sum = reducer(sumOp);
/** Shapes: as `sum`. */
export const mean = reducer(meanOp);
/** Shapes: as `sum`. NaN anywhere in a reduced group gives NaN (as PyTorch). */
export const max = reducer(maxOp);
/** Shapes: as `sum`. NaN propagates as in `max`. */
export const min = reducer(minOp);

/** Shapes: x [..., D, ...] → int32 indices with that axis removed (default axis 0, as tfjs). First on ties. */
export function argmax(x: Tensor, attrs: ArgReduceAttrs = {}): Tensor {
  checkOptionKeys('argmax', attrs, ['axis']);
  return apply(argmaxOp, [x], attrs, ['x']);
}

/** Shapes: as `argmax`. */
export function argmin(x: Tensor, attrs: ArgReduceAttrs = {}): Tensor {
  checkOptionKeys('argmin', attrs, ['axis']);
  return apply(argminOp, [x], attrs, ['x']);
}

export type { TensorSpec };
