// Layout ops: transpose (a generated strided copy), slice with steps (the same), its backward and constant pad
// (the lattice kernel pad.wgsl), reflect pad (slices and concat), expandDims, squeeze, stack and split.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { checkOptionKeys } from '../options.js';
import { refElementwise } from '../reference/expr.js';
import { refLattice } from '../reference/shape.js';
import { concat } from './concat.js';
import { contiguousStrides, elementwiseKernel, stridedView, type InputView } from './elementwise/codegen.js';
import { input } from './elementwise/expr.js';
import { reshape } from './reshape.js';
import { splitAxis } from './split_axis.js';
import { sizeOf, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, workgroupsFor } from './util.js';

const MAX_LATTICE_RANK = 8;

function normalizeAxis(op: string, rank: number, axis: unknown, extra = 0): number {
  const a = typeof axis === 'number' && axis < 0 ? axis + rank + extra : axis;
  if (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a >= rank + extra) {
    throw new ShapeError(
      `${op}: argument 'axis' must be an integer in [${-(rank + extra)}, ${rank + extra}), got ${String(axis)}`,
    );
  }
  return a;
}

/** A copy of x read through `view` (strides per output axis): the forward of transpose and slice. */
function viewOpDef<A>(
  name: string,
  shapeOf: (x: TensorSpec, attrs: A) => number[],
  viewOf: (x: readonly number[], attrs: A) => InputView,
  backward: OpDef<A>['backward'],
): OpDef<A> {
  return {
    name,
    check([x], attrs) {
      expectFloat(name, 'x', x);
      return [{ shape: shapeOf(x, attrs), dtype: 'float32' }];
    },
    forward(io, attrs) {
      const x = io.inputs[0];
      const shape = io.outputs[0].spec.shape;
      const view = viewOf(x.spec.shape, attrs);
      return [
        elementwiseKernel(input(0), [{ buffer: x.buffer, view }], { buffer: io.outputs[0].buffer, shape }),
      ];
    },
    backward,
    cost: ([x], attrs) => ({ flops: 0, bytes: 8 * sizeOf(shapeOf(x, attrs)) }),
    reference: ([x], attrs) => {
      const shape = shapeOf({ shape: x.shape, dtype: 'float32' }, attrs);
      return [refElementwise(input(0), [x], [viewOf(x.shape, attrs)], shape)];
    },
  };
}

interface TransposeAttrs {
  perm: readonly number[];
}

function checkPerm(shape: readonly number[], perm: readonly number[]): void {
  const ok =
    Array.isArray(perm) &&
    perm.length === shape.length &&
    [...perm].sort((a, b) => a - b).every((p, i) => p === i);
  if (!ok)
    throw new ShapeError(
      `transpose: argument 'perm' must be a permutation of 0..${shape.length - 1}, got ${JSON.stringify(perm)}`,
    );
}

export const transposeOp: OpDef<TransposeAttrs> = viewOpDef<TransposeAttrs>(
  'transpose',
  (x, { perm }) => {
    checkPerm(x.shape, perm);
    return perm.map((p) => x.shape[p]);
  },
  (shape, { perm }) => {
    const strides = contiguousStrides(shape);
    return stridedView(perm.map((p) => strides[p]));
  },
  [
    ({ dys, attrs }) => {
      const inverse = attrs.perm.map((_, i) => attrs.perm.indexOf(i));
      return transpose(dys[0]!, inverse);
    },
  ],
);

/** Shapes: x [d0, ..., dn] → [d_perm[0], ..., d_perm[n]] (default: axes reversed, as tfjs). A copy. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  return apply(transposeOp, [x], { perm: [...p] }, ['x']);
}

/** PyTorch's name for `transpose` with a permutation. */
export const permute = (x: Tensor, perm: readonly number[]): Tensor => transpose(x, perm);

interface SliceAttrs {
  begin: readonly number[];
  size: readonly number[];
  step: readonly number[];
}

export const sliceOp: OpDef<SliceAttrs> = viewOpDef<SliceAttrs>(
  'slice',
  (x, { size }) => [...size],
  (shape, { begin, step }) => {
    const strides = contiguousStrides(shape);
    const offset = begin.reduce((t, b, d) => t + b * strides[d], 0);
    return stridedView(
      step.map((s, d) => s * strides[d]),
      offset,
    );
  },
  [
    ({ inputs: [x], dys, attrs }) =>
      apply(
        sliceBackwardOp,
        [dys[0]!],
        { shape: [...x.shape], lo: attrs.begin, step: attrs.step, value: 0 },
        ['dy'],
      ),
  ],
);

interface LatticeAttrs {
  /** The output shape. */
  shape: readonly number[];
  /** Output coordinate of x's element 0 along each axis. */
  lo: readonly number[];
  /** Output elements between x's consecutive elements (negative: x runs backwards). */
  step: readonly number[];
  value: number;
}

function latticeOpDef(name: string, backward: OpDef<LatticeAttrs>['backward']): OpDef<LatticeAttrs> {
  return {
    name,
    check([x], { shape, lo, step }) {
      expectFloat(name, name === 'pad' ? 'x' : 'dy', x);
      if (x.shape.length > MAX_LATTICE_RANK)
        throw new ShapeError(`${name}: rank ${x.shape.length} is above ${MAX_LATTICE_RANK}`);
      if (shape.length !== x.shape.length || lo.length !== x.shape.length || step.some((s) => s === 0))
        throw new ShapeError(`${name}: bad lattice for ${fmtShape(x.shape)}`);
      return [{ shape: [...shape], dtype: 'float32' }];
    },
    forward(io, { shape, lo, step, value }) {
      const x = io.inputs[0].spec.shape;
      const strides = contiguousStrides(x);
      const n = sizeOf(shape);
      const dims: { i32: number }[] = [];
      const strideFields: number[] = [];
      for (let d = 0; d < MAX_LATTICE_RANK; d++) {
        const inside = d < shape.length;
        dims.push(
          ...[inside ? shape[d] : 1, inside ? lo[d] : 0, inside ? step[d] : 1, inside ? x[d] : 1].map(
            (i32) => ({ i32 }),
          ),
        );
        strideFields.push(inside ? strides[d] : 0, 0, 0, 0);
      }
      return [
        {
          shader: 'pad',
          constants: { WG: ELEMENTWISE_WG },
          uniforms: [n, shape.length, { f32: value }, 0, ...dims, ...strideFields],
          buffers: [io.inputs[0].buffer, io.outputs[0].buffer],
          workgroups: workgroupsFor(n),
        },
      ];
    },
    backward,
    cost: (_inputs, { shape }) => ({ flops: 0, bytes: 8 * sizeOf(shape) }),
    reference: ([x], { shape, lo, step, value }) => [refLattice(x, shape, lo, step, value)],
  };
}

/** The backward pass of slice: dy placed on the sliced lattice of x's shape, zeros elsewhere. */
export const sliceBackwardOp = latticeOpDef('sliceBackward', null);

/** Constant padding; its backward is the slice that takes the middle back. */
export const padOp = latticeOpDef('pad', [
  ({ inputs: [x], dys, attrs }) =>
    apply(sliceOp, [dys[0]!], { begin: attrs.lo, size: [...x.shape], step: x.shape.map(() => 1) }, ['dy']),
]);

export interface SliceOptions {
  /** Step along each axis (default 1); negative steps walk backwards from `begin`. */
  step?: number | readonly number[];
}

/**
 * Shapes: x [d0, ...] → `size` (tfjs's slice: `begin` and `size` per axis, -1 in size meaning "as many as fit"; a
 * shorter list, or a number, leaves the later axes whole). With `step`, every step-th element from begin;
 * negative steps run towards index 0. A copy (one generated strided kernel).
 */
export function slice(
  x: Tensor,
  begin: number | readonly number[],
  size?: number | readonly number[],
  options: SliceOptions = {},
): Tensor {
  checkOptionKeys('slice', options, ['step']);
  const rank = x.rank;
  const pick = (v: number | readonly number[] | undefined, fill: number, arg: string): number[] => {
    const list = v === undefined ? [] : typeof v === 'number' ? [v] : v;
    if (!Array.isArray(list) || list.length > rank || list.some((d) => !Number.isInteger(d)))
      throw new ShapeError(
        `slice: argument '${arg}' must be at most ${rank} integers, got ${JSON.stringify(v)}`,
      );
    return x.shape.map((_, d) => (d < list.length ? list[d] : fill));
  };
  const b = pick(begin, 0, 'begin');
  const st = pick(options.step, 1, 'step');
  const sz = pick(size, -1, 'size');
  const out = x.shape.map((dim, d) => {
    const s = st[d];
    if (s === 0) throw new ShapeError(`slice: 'step' must not be 0 (axis ${d})`);
    if (b[d] < 0 || b[d] >= dim) {
      if (dim === 0 && b[d] === 0 && (sz[d] === 0 || sz[d] === -1)) return 0;
      throw new ShapeError(`slice: 'begin' ${b[d]} is outside axis ${d} of ${fmtShape(x.shape)}`);
    }
    const fit = s > 0 ? Math.ceil((dim - b[d]) / s) : Math.floor(b[d] / -s) + 1;
    const n = sz[d] === -1 ? fit : sz[d];
    if (n < 0 || n > fit)
      throw new ShapeError(
        `slice: 'size' ${sz[d]} on axis ${d} exceeds the ${fit} elements from ${b[d]} in steps of ${s} in ${fmtShape(x.shape)}`,
      );
    return n;
  });
  return apply(sliceOp, [x], { begin: b, size: out, step: st }, ['x']);
}

export interface PadOptions {
  mode?: 'constant' | 'reflect';
  /** The fill value of constant padding (default 0). */
  value?: number;
}

/**
 * Shapes: x [d0, ...] → [d0 + before0 + after0, ...], `paddings` one [before, after] pair per axis (tfjs). 'reflect'
 * mirrors without repeating the edge (as tfjs's mirrorPad 'reflect' and PyTorch), so each pad must be < the axis.
 */
export function pad(
  x: Tensor,
  paddings: readonly (readonly [number, number])[],
  options: PadOptions = {},
): Tensor {
  checkOptionKeys('pad', options, ['mode', 'value']);
  const mode = options.mode ?? 'constant';
  if (mode !== 'constant' && mode !== 'reflect')
    throw new ArgumentError(`pad: 'mode' must be 'constant' or 'reflect', got ${String(mode)}`);
  const ok =
    Array.isArray(paddings) &&
    paddings.length === x.rank &&
    paddings.every(
      (p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0),
    );
  if (!ok)
    throw new ShapeError(
      `pad: argument 'paddings' must be ${x.rank} pairs [before, after] of integers >= 0, got ${JSON.stringify(paddings)}`,
    );
  const value = options.value ?? 0;
  if (typeof value !== 'number')
    throw new ArgumentError(`pad: 'value' must be a number, got ${String(value)}`);
  if (mode === 'reflect') {
    if (value !== 0) throw new ArgumentError(`pad: 'value' applies to mode 'constant' only`);
    return reflectPad(x, paddings);
  }
  const shape = x.shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  return apply(padOp, [x], { shape, lo: paddings.map((p) => p[0]), step: x.shape.map(() => 1), value }, [
    'x',
  ]);
}

/** Reflect padding axis by axis: the mirrored edges are slices with step -1, concatenated around x. */
function reflectPad(x: Tensor, paddings: readonly (readonly [number, number])[]): Tensor {
  let y = x;
  paddings.forEach(([before, after], axis) => {
    if (before === 0 && after === 0) return;
    const dim = y.shape[axis];
    if (before >= dim || after >= dim)
      throw new ShapeError(
        `pad: reflect padding [${before}, ${after}] on axis ${axis} must be < its size ${dim}`,
      );
    const along = (b: number, n: number) => {
      const begin = y.shape.map((_, d) => (d === axis ? b : 0));
      const size = y.shape.map((s, d) => (d === axis ? n : s));
      const step = y.shape.map((_, d) => (d === axis ? -1 : 1));
      return slice(y, begin, size, { step });
    };
    const parts = [
      ...(before > 0 ? [along(before, before)] : []),
      y,
      ...(after > 0 ? [along(dim - 2, after)] : []),
    ];
    y = concat(parts, axis);
  });
  return y;
}

/** Shapes: x [...] → with a 1 inserted at `axis` (a view). */
export function expandDims(x: Tensor, axis = 0): Tensor {
  const a = normalizeAxis('expandDims', x.rank, axis, 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Shapes: x [...] → without the length-1 axes named by `axis` (default: all of them). A view. */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  const list =
    axis === undefined
      ? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))
      : typeof axis === 'number'
        ? [axis]
        : [...axis];
  const axes = list.map((a) => normalizeAxis('squeeze', x.rank, a));
  for (const a of axes)
    if (x.shape[a] !== 1)
      throw new ShapeError(`squeeze: axis ${a} of ${fmtShape(x.shape)} has length ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => !axes.includes(i)),
  );
}

/** Shapes: K tensors of one shape [...] → [..., K at `axis`, ...]. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0)
    throw new ShapeError(`stack: argument 'tensors' must be a non-empty array of tensors`);
  const first = tensors[0].shape;
  tensors.forEach((t, i) => {
    if (t.shape.length !== first.length || t.shape.some((d: number, k: number) => d !== first[k]))
      throw new ShapeError(
        `stack: tensors[${i}] ${fmtShape(t.shape)} differs from tensors[0] ${fmtShape(first)}`,
      );
  });
  const a = normalizeAxis('stack', first.length, axis, 1);
  return concat(
    tensors.map((t) => expandDims(t, a)),
    a,
  );
}

/**
 * Shapes: x [..., D at `axis`, ...] → pieces along axis: `sizes` a count that divides D (equal pieces, tfjs's
 * numOrSizeSplits) or a list of lengths summing to D (one may be -1).
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const a = normalizeAxis('split', x.rank, axis);
  const dim = x.shape[a];
  let lengths: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes < 1 || dim % sizes !== 0)
      throw new ShapeError(`split: ${sizes} pieces do not divide axis ${a} of ${fmtShape(x.shape)}`);
    lengths = Array.from({ length: sizes }, () => dim / sizes);
  } else {
    const known = sizes.filter((s) => s !== -1).reduce((t, s) => t + s, 0);
    lengths = sizes.map((s) => (s === -1 ? dim - known : s));
    if (
      sizes.filter((s) => s === -1).length > 1 ||
      lengths.some((s) => !Number.isInteger(s) || s < 0) ||
      lengths.reduce((t, s) => t + s, 0) !== dim
    )
      throw new ShapeError(
        `split: sizes ${JSON.stringify(sizes)} do not sum to axis ${a} of ${fmtShape(x.shape)}`,
      );
  }
  return splitAxis(x, a, lengths);
}
