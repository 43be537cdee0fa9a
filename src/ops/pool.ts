// Max and average pooling over NHWC windows (TensorFlow 'same'/'valid', explicit padding, ceil mode), gather backward passes, global average.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply, record } from '../graph/record.js';
import { checkOptionKeys } from '../options.js';
import type { Tensor } from '../graph/tensor.js';
import {
  refAvgPool,
  refAvgPoolBackward,
  refMaxPool,
  refMaxPoolBackward,
  type PoolGeometry,
} from '../reference/pool.js';
import { normalizePair, resolvePadding, type Padding, type Pair } from './conv_geometry.js';
import { channelLanes } from './lanes.js';
import { mean } from './reduce.js';
import { sizeOf, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, expectRank, workgroupsFor } from './util.js';

export interface PoolOptions {
  /** Window size: one number for both axes, or [h, w]. */
  size: Pair;
  /** Step between windows; defaults to the window size. */
  stride?: Pair;
  /**
   * 'valid' (default, as in tf): windows inside the input; 'same': out = ceil(in / stride), odd pad bottom/right;
   * a number or [[top, bottom], [left, right]]: explicit padding as PyTorch's `padding`, each side smaller than
   * the window. Padding never wins a max and is never counted by an average (PyTorch's count_include_pad=False).
   */
  padding?: Padding;
  /**
   * PyTorch's ceil_mode (explicit or 'valid' padding only): out = ceil((in + pads - k) / stride) + 1, minus one
   * when the last window would start past the input and its leading padding.
   */
  ceilMode?: boolean;
}

interface PoolAttrs {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padding: Padding;
  ceilMode: boolean;
}

/** A backward pass also needs the forward input's shape [N, H, W, C]. */
interface PoolBackwardAttrs extends PoolAttrs {
  inShape: readonly number[];
}

/**
 * PyTorch's pooling output length along one axis in ceil mode: a last partial window is kept only if it starts
 * inside the input or its leading padding.
 */
function ceilOut(len: number, padBefore: number, padAfter: number, k: number, s: number): number {
  let out = Math.ceil((len + padBefore + padAfter - k) / s) + 1;
  if ((out - 1) * s >= len + padBefore) out--;
  return out;
}

function geometry(op: string, inShape: readonly number[], a: PoolAttrs): PoolGeometry {
  const g = resolvePadding(op, inShape[1], inShape[2], a.kh, a.kw, [a.sh, a.sw], [1, 1], a.padding);
  if (
    a.padding !== 'same' &&
    (Math.max(g.padTop, g.padBottom) >= a.kh || Math.max(g.padLeft, g.padRight) >= a.kw)
  ) {
    // A window wholly inside the padding would have no tap: no maximum, nothing to average.
    throw new ArgumentError(
      `${op}: argument 'padding' must be smaller than the window ${a.kh}x${a.kw} on every side, got ${JSON.stringify(a.padding)}`,
    );
  }
  if (a.ceilMode) {
    g.outH = ceilOut(inShape[1], g.padTop, g.padBottom, a.kh, a.sh);
    g.outW = ceilOut(inShape[2], g.padLeft, g.padRight, a.kw, a.sw);
  }
  return { ...g, kh: a.kh, kw: a.kw, sh: a.sh, sw: a.sw };
}

function checkInput(op: string, x: TensorSpec, a: PoolAttrs): TensorSpec {
  expectFloat(op, 'x', x);
  expectRank(op, 'x', x, 4, 'NHWC');
  const g = geometry(op, x.shape, a);
  return { shape: [x.shape[0], g.outH, g.outW, x.shape[3]], dtype: 'float32' };
}

/** Checks dy against the forward output shape that inShape and the attributes imply. */
function checkGradient(op: string, dy: TensorSpec, a: PoolBackwardAttrs): void {
  const expected = checkInput(op, { shape: a.inShape, dtype: 'float32' }, a).shape;
  expectFloat(op, 'dy', dy);
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${op}: argument 'dy' must be ${fmtShape(expected)}, got ${fmtShape(dy.shape)}`);
  }
}

/**
 * One dispatch of a pooling kernel: one invocation per element of `over` (the output for forward passes, the
 * input gradient for backward passes), vec4 along channels when C % 4 == 0.
 */
function poolDispatch(
  shader: Dispatch['shader'],
  inShape: readonly number[],
  a: PoolAttrs,
  over: readonly number[],
  buffers: GPUBuffer[],
  withInt: boolean,
): Dispatch {
  const [, h, w, c] = inShape;
  const g = geometry(shader, inShape, a);
  const { groups, regions } = channelLanes(c, withInt);
  const total = (sizeOf(over) / Math.max(1, c)) * groups;
  return {
    shader,
    constants: { WG: ELEMENTWISE_WG },
    regions,
    uniforms: [h, w, groups, g.outH, g.outW, a.kh, a.kw, a.sh, a.sw, g.padTop, g.padLeft, total],
    buffers,
    workgroups: workgroupsFor(total),
  };
}

const windowCost = (out: readonly number[], a: PoolAttrs, inputs: readonly number[]) => ({
  flops: sizeOf(out) * a.kh * a.kw,
  bytes: 4 * (sizeOf(inputs) + 2 * sizeOf(out)),
});

/** The max_pool2d regions that bind, track and store the argmax, emptied: a kernel that writes y alone. */
const NO_ARGMAX = { ARGMAX_BINDING: '', ARGMAX_INIT: '', ARGMAX_TRACK: '', ARGMAX_STORE: '' };

/**
 * Max pooling; output 1 is the int32 argmax (spatial index y*W + x per channel) that the backward gathers with.
 * It is optional: a flush where no tensor holds it and nothing reads it (inference, the tensor disposed by a
 * closed tidy) runs the y-only kernel and gives it no buffer.
 */
export const maxPool2dOp: OpDef<PoolAttrs> = {
  name: 'maxPool2d',
  check([x], a) {
    const y = checkInput('maxPool2d', x, a);
    return [y, { shape: y.shape, dtype: 'int32' }];
  },
  optionalOutputs: [1],
  forward(io, a) {
    const x = io.inputs[0];
    const [y, arg] = io.outputs;
    if (y.spec.shape.some((d) => d === 0)) return [];
    if (!arg.unread) {
      return [
        poolDispatch('max_pool2d', x.spec.shape, a, y.spec.shape, [x.buffer, y.buffer, arg.buffer], true),
      ];
    }
    // Nothing reads the argmax (inference): the kernel neither tracks nor stores it.
    const d = poolDispatch('max_pool2d', x.spec.shape, a, y.spec.shape, [x.buffer, y.buffer], true);
    d.regions = { ...d.regions, ...NO_ARGMAX };
    return [d];
  },
  backward: [
    ({ inputs: [x], outputs: [, argmax], dys, attrs }) =>
      apply(maxPool2dBackwardOp, [dys[0]!, argmax], { ...attrs, inShape: x.shape }, ['dy', 'argmax']),
  ],
  cost: ([x], a) => windowCost(checkInput('maxPool2d', x, a).shape, a, x.shape),
  reference: ([x], a) => refMaxPool(x, geometry('maxPool2d', x.shape, a)),
};

export const maxPool2dBackwardOp: OpDef<PoolBackwardAttrs> = {
  name: 'maxPool2dBackward',
  check([dy, argmax], a) {
    checkGradient('maxPool2dBackward', dy, a);
    if (argmax.dtype !== 'int32' || argmax.shape.some((d, i) => d !== dy.shape[i])) {
      throw new ShapeError(
        `maxPool2dBackward: argument 'argmax' must be int32 ${fmtShape(dy.shape)}, got ${argmax.dtype} ${fmtShape(argmax.shape)}`,
      );
    }
    return [{ shape: a.inShape, dtype: 'float32' }];
  },
  forward(io, a) {
    const [dy, arg] = io.inputs;
    const dx = io.outputs[0];
    if (sizeOf(a.inShape) === 0) return [];
    return [
      poolDispatch('max_pool2d_backward', a.inShape, a, a.inShape, [dy.buffer, arg.buffer, dx.buffer], true),
    ];
  },
  backward: null,
  cost: ([dy], a) => windowCost(dy.shape, a, a.inShape),
  reference: ([dy, argmax], a) => [
    refMaxPoolBackward(dy, argmax, a.inShape, geometry('maxPool2dBackward', a.inShape, a)),
  ],
};

/** Average pooling dividing by the in-bounds taps of each window. */
export const avgPool2dOp: OpDef<PoolAttrs> = {
  name: 'avgPool2d',
  check: ([x], a) => [checkInput('avgPool2d', x, a)],
  forward(io, a) {
    const x = io.inputs[0];
    const y = io.outputs[0];
    if (sizeOf(y.spec.shape) === 0) return [];
    return [poolDispatch('avg_pool2d', x.spec.shape, a, y.spec.shape, [x.buffer, y.buffer], false)];
  },
  backward: [
    ({ inputs: [x], dys, attrs }) =>
      apply(avgPool2dBackwardOp, [dys[0]!], { ...attrs, inShape: x.shape }, ['dy']),
  ],
  cost: ([x], a) => windowCost(checkInput('avgPool2d', x, a).shape, a, x.shape),
  reference: ([x], a) => [refAvgPool(x, geometry('avgPool2d', x.shape, a))],
};

export const avgPool2dBackwardOp: OpDef<PoolBackwardAttrs> = {
  name: 'avgPool2dBackward',
  check([dy], a) {
    checkGradient('avgPool2dBackward', dy, a);
    return [{ shape: a.inShape, dtype: 'float32' }];
  },
  forward(io, a) {
    if (sizeOf(a.inShape) === 0) return [];
    return [
      poolDispatch(
        'avg_pool2d_backward',
        a.inShape,
        a,
        a.inShape,
        [io.inputs[0].buffer, io.outputs[0].buffer],
        false,
      ),
    ];
  },
  backward: null,
  cost: ([dy], a) => windowCost(dy.shape, a, a.inShape),
  reference: ([dy], a) => [refAvgPoolBackward(dy, a.inShape, geometry('avgPool2dBackward', a.inShape, a))],
};

function poolAttrs(op: string, options: PoolOptions): PoolAttrs {
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError(
      `${op}: argument 'options' must be { size, stride?, padding?, ceilMode? }, got ${String(options)}`,
    );
  }
  checkOptionKeys(op, options, ['size', 'stride', 'padding', 'ceilMode']);
  const { size, stride = size, padding = 'valid', ceilMode = false } = options;
  const [kh, kw] = normalizePair(op, 'size', size);
  const [sh, sw] = normalizePair(op, 'stride', stride);
  if (typeof padding === 'string' && padding !== 'same' && padding !== 'valid') {
    throw new ArgumentError(
      `${op}: argument 'padding' must be 'same' or 'valid', a non-negative integer or [[top,bottom],[left,right]], got ${JSON.stringify(padding)}`,
    );
  }
  if (typeof ceilMode !== 'boolean' || (ceilMode && padding === 'same')) {
    throw new ArgumentError(
      `${op}: argument 'ceilMode' must be a boolean, and false with padding 'same' (which fixes the output size), got ${JSON.stringify(ceilMode)} with padding ${JSON.stringify(padding)}`,
    );
  }
  return { kh, kw, sh, sw, padding, ceilMode };
}

/**
 * Max pooling with TensorFlow semantics: padding never wins, ties go to the first tap in row-major window order.
 * Explicit padding and ceilMode give PyTorch's MaxPool2d sizes. The forward saves the argmax; the backward
 * gathers dy through it.
 * Shapes: x [N,H,W,C] → [N,OH,OW,C]; 'valid': OH = floor((H - KH) / SH) + 1, 'same': OH = ceil(H / SH),
 * explicit: OH = floor((H + padTop + padBottom - KH) / SH) + 1 (ceil in ceil mode, see PoolOptions).
 */
export function maxPool2d(x: Tensor, options: PoolOptions): Tensor {
  const [y, argmax] = record(maxPool2dOp, [x], poolAttrs('maxPool2d', options), ['x']);
  // Only the backward reads the argmax: when y needs no gradient (noGrad, or x needs none) none ever will, so it
  // is dropped at once and the flush runs the y-only kernel.
  if (!y.needsGrad) argmax.dispose();
  return y;
}

/**
 * Average pooling with TensorFlow semantics: each window divides by its number of in-bounds taps (with explicit
 * padding that is PyTorch's AvgPool2d with count_include_pad=False).
 * Shapes: x [N,H,W,C] → [N,OH,OW,C] as for maxPool2d.
 */
export function avgPool2d(x: Tensor, options: PoolOptions): Tensor {
  return apply(avgPool2dOp, [x], poolAttrs('avgPool2d', options), ['x']);
}

/** Mean over the spatial axes (a reduction, so it reuses the two-pass sum kernel). Shapes: x [N,H,W,C] → [N,C]. */
export function globalAvgPool(x: Tensor): Tensor {
  expectRank('globalAvgPool', 'x', { shape: x.shape, dtype: x.dtype }, 4, 'NHWC');
  return mean(x, { axis: [1, 2] });
}
