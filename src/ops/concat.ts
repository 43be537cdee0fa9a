// concat along any axis (one copy dispatch per input) and concatSlice, its backward pass (one slice per input).
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { refConcat, refSlice } from '../reference/concat.js';
import { sizeOf, type BackwardRule, type OpDef } from './types.js';
import { ELEMENTWISE_WG, expectFloat, workgroupsFor } from './util.js';

export interface ConcatAttrs {
  /** Non-negative axis. */
  axis: number;
  /**
   * Set by the 'concatStore' pass only (graph/fusion/concat_store.ts): where along the axis each input goes, for a
   * concat left with the inputs whose producers could not store their slice themselves.
   */
  at?: readonly number[];
}

interface SliceAttrs {
  axis: number;
  start: number;
  size: number;
}

/** Elements before the axis, and the elements of one step along it. */
function outerInner(shape: readonly number[], axis: number): { outer: number; inner: number } {
  return { outer: sizeOf(shape.slice(0, axis)), inner: sizeOf(shape.slice(axis + 1)) };
}

/**
 * A concat_copy dispatch: `outer` rows of `len` floats from `src` to `dst`, each at its stride and offset; in
 * vec4 elements when every length, stride and offset is a multiple of 4.
 */
export function copyRows(
  src: GPUBuffer,
  dst: GPUBuffer,
  outer: number,
  len: number,
  from: { stride: number; offset: number },
  to: { stride: number; offset: number },
): Dispatch {
  const sizes = [len, from.stride, from.offset, to.stride, to.offset];
  const vec4 = sizes.every((v) => v % 4 === 0);
  const lanes = vec4 ? 4 : 1;
  return {
    shader: 'concat_copy',
    constants: { WG: ELEMENTWISE_WG },
    // The shader's default is vec4 elements; one float each otherwise.
    regions: vec4 ? {} : { VEC: 'alias V = f32;' },
    uniforms: [outer, ...sizes.map((v) => v / lanes)],
    buffers: [src, dst],
    workgroups: workgroupsFor((outer * len) / lanes),
  };
}

/**
 * A rule for every input index, however many inputs a concat has: input k's gradient is its slice of dy.
 * (Backward rules are looked up by input index; a concat's arity is only known per call.)
 */
const sliceRules: readonly BackwardRule<ConcatAttrs>[] = new Proxy([] as BackwardRule<ConcatAttrs>[], {
  get(target, key, receiver) {
    if (typeof key !== 'string' || !/^\d+$/.test(key)) return Reflect.get(target, key, receiver);
    const k = Number(key);
    return (({ inputs, dys, attrs }) => {
      const start = inputs.slice(0, k).reduce((s, t) => s + t.shape[attrs.axis], 0);
      return concatSlice(dys[0]!, attrs.axis, start, inputs[k].shape[attrs.axis]);
    }) satisfies BackwardRule<ConcatAttrs>;
  },
});

export const concatOp: OpDef<ConcatAttrs> = {
  name: 'concat',
  check(inputs, { axis }) {
    if (inputs.length === 0) throw new ShapeError(`concat: argument 'tensors' must not be empty`);
    const first = inputs[0].shape;
    inputs.forEach((t, i) => {
      expectFloat('concat', `tensors[${i}]`, t);
      if (t.shape.length !== first.length || t.shape.some((d, k) => k !== axis && d !== first[k])) {
        throw new ShapeError(
          `concat: argument 'tensors[${i}]' ${fmtShape(t.shape)} must match tensors[0] ${fmtShape(first)} on every axis but ${axis}`,
        );
      }
    });
    const shape = [...first];
    shape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
    return [{ shape, dtype: 'float32' }];
  },
  forward(io, { axis, at }) {
    const out = io.outputs[0];
    const { outer, inner } = outerInner(out.spec.shape, axis);
    const stride = out.spec.shape[axis] * inner;
    let offset = 0;
    const dispatches: Dispatch[] = [];
    for (const [k, x] of io.inputs.entries()) {
      if (at) offset = at[k] * inner;
      const len = x.spec.shape[axis] * inner;
      if (len > 0 && outer > 0) {
        dispatches.push(
          copyRows(x.buffer, out.buffer, outer, len, { stride: len, offset: 0 }, { stride, offset }),
        );
      }
      offset += len;
    }
    return dispatches;
  },
  backward: sliceRules,
  cost: (inputs) => {
    const n = inputs.reduce((s, t) => s + sizeOf(t.shape), 0);
    return { flops: 0, bytes: 8 * n };
  },
  reference: (inputs, { axis }) => [refConcat(inputs, axis)],
};

export const concatSliceOp: OpDef<SliceAttrs> = {
  name: 'concatSlice',
  check([x], { axis, start, size }) {
    expectFloat('concatSlice', 'x', x);
    if (axis >= x.shape.length || start < 0 || size < 0 || start + size > x.shape[axis]) {
      throw new ShapeError(
        `concatSlice: [${start}, ${start + size}) along axis ${axis} is outside x ${fmtShape(x.shape)}`,
      );
    }
    const shape = [...x.shape];
    shape[axis] = size;
    return [{ shape, dtype: 'float32' }];
  },
  forward(io, { axis, start, size }) {
    const x = io.inputs[0].spec;
    const { outer, inner } = outerInner(x.shape, axis);
    const len = size * inner;
    if (len === 0 || outer === 0) return [];
    const from = { stride: x.shape[axis] * inner, offset: start * inner };
    return [
      copyRows(io.inputs[0].buffer, io.outputs[0].buffer, outer, len, from, { stride: len, offset: 0 }),
    ];
  },
  backward: null,
  cost: (_inputs, { size }) => ({ flops: 0, bytes: 8 * size }),
  reference: ([x], { axis, start, size }) => [refSlice(x, axis, start, size)],
};

function normalizeAxis(rank: number, axis: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= rank) {
    throw new ArgumentError(`concat: argument 'axis' must be an integer in [${-rank}, ${rank}), got ${axis}`);
  }
  return a;
}

/**
 * Joins tensors along `axis` (negative counts from the end; Inception joins branches with axis -1).
 * The gradient of each input is its slice of dy.
 * Shapes: tensors[i] equal on every axis but `axis` → that shape with `axis` = the sum of their extents.
 */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new ShapeError(`concat: argument 'tensors' must be a non-empty array of tensors`);
  }
  const rank = tensors[0]?.shape?.length ?? 0;
  return apply(
    concatOp,
    tensors,
    { axis: normalizeAxis(rank, axis) },
    tensors.map((_, i) => `tensors[${i}]`),
  );
}

/** The backward pass of concat: the part [start, start + size) of x along `axis` (non-negative). Shapes: x → x with `axis` = size. */
export function concatSlice(x: Tensor, axis: number, start: number, size: number): Tensor {
  return apply(concatSliceOp, [x], { axis, start, size }, ['x']);
}
