// Depthwise conv2d (groups = Cin, channel multiplier M): forward, backprop-input and backprop-filter kernels of its own.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { checkOptionKeys } from '../options.js';
import {
  refDepthwiseBackpropFilter,
  refDepthwiseBackpropInput,
  refDepthwiseConv2d,
} from '../reference/depthwise.js';
import { CONV_WG, checkConvArgs, checkDy, convAttrs, convFlops, type Conv2dOptions } from './conv2d.js';
import { MAX_LOOP, sumPartsDispatch } from './conv2d_backprop_filter.js';
import { type ConvAttrs, convDims, type ConvDims, convUniforms } from './conv_geometry.js';
import { depthwiseTile, depthwiseTileRegion } from './depthwise_tile.js';
import { sum } from './reduce.js';
import { sizeOf, type KernelIO, type OpDef, type TensorSpec } from './types.js';
import { expectFloat, workgroupsFor } from './util.js';

/**
 * The conv geometry of a depthwise conv: x [N,H,W,C] and w [KH,KW,C,M] give cin = C and cout = C*M (output
 * channel c*M + m reads input channel c), so convFlops and the conv uniforms mean what they mean for conv2d.
 */
export function depthwiseDims(
  op: string,
  xShape: readonly number[],
  wShape: readonly number[],
  attrs: ConvAttrs,
): ConvDims {
  const [kh, kw, c, m] = wShape;
  return convDims(op, xShape, [kh, kw, c, c * m], attrs);
}

/**
 * vec4 lanes when every output channel maps to the same-index input channel (M = 1) and C % 4 == 0, else one
 * channel per invocation: `cvIn`/`cvOut` are the channel groups the shaders index, `mult` the output groups per
 * input group.
 */
export function depthwiseLanes(d: ConvDims): {
  cvIn: number;
  cvOut: number;
  mult: number;
  regions: Record<string, string>;
} {
  if (d.cout === d.cin && d.cin % 4 === 0)
    return { cvIn: d.cin / 4, cvOut: d.cout / 4, mult: 1, regions: {} };
  return { cvIn: d.cin, cvOut: d.cout, mult: d.cout / d.cin, regions: { VEC: 'alias V = f32;' } };
}

/** Checks x [N,H,W,C] and w [KH,KW,C,M] for `op` and resolves the geometry (cout = C*M). */
function checkDepthwiseArgs(
  op: string,
  x: TensorSpec,
  w: TensorSpec,
  attrs: ConvAttrs,
  wArg = 'w',
): ConvDims {
  checkConvArgs(op, x, w, attrs, wArg);
  return depthwiseDims(op, x.shape, w.shape, attrs);
}

/**
 * The forward dispatch with `tile` (default: depthwiseTile's choice). Shapes: x [N,H,W,C], w [KH,KW,C,M],
 * bias [C*M] → y [N,OH,OW,C*M].
 */
export function depthwiseForwardPlan(io: KernelIO, d: ConvDims, tile = depthwiseTile(d)): Dispatch[] {
  const { cvIn, cvOut, mult, regions } = depthwiseLanes(d);
  const hasBias = io.inputs.length === 3;
  const tilesH = Math.ceil(d.oh / tile.th);
  const tilesW = Math.ceil(d.ow / tile.tw);
  const total = d.n * tilesH * tilesW * cvOut;
  return [
    {
      shader: 'depthwise_fwd',
      constants: { WG: CONV_WG },
      regions: { ...regions, ...depthwiseTileRegion(d, tile) },
      uniforms: [...convUniforms(d), hasBias ? 1 : 0, cvIn, cvOut, mult, tilesH, tilesW, total],
      buffers: [
        io.inputs[0].buffer,
        io.inputs[1].buffer,
        io.inputs[hasBias ? 2 : 1].buffer,
        io.outputs[0].buffer,
      ],
      workgroups: workgroupsFor(total, CONV_WG),
    },
  ];
}

export const depthwiseConv2dOp: OpDef<ConvAttrs> = {
  name: 'depthwiseConv2d',
  check([x, w, bias], attrs) {
    const d = checkDepthwiseArgs('depthwiseConv2d', x, w, attrs);
    if (bias) {
      expectFloat('depthwiseConv2d', 'bias', bias);
      if (bias.shape.length !== 1 || bias.shape[0] !== d.cout) {
        throw new ShapeError(
          `depthwiseConv2d: argument 'bias' must be [${d.cout}] (C*M) to match w ${fmtShape(w.shape)}, got ${fmtShape(bias.shape)}`,
        );
      }
    }
    return [{ shape: [d.n, d.oh, d.ow, d.cout], dtype: 'float32' }];
  },
  forward(io, attrs) {
    return depthwiseForwardPlan(
      io,
      depthwiseDims('depthwiseConv2d', io.inputs[0].spec.shape, io.inputs[1].spec.shape, attrs),
    );
  },
  backward: [
    ({ inputs: [x, w], dys, attrs }) => depthwiseBackpropInput(dys[0]!, w, x.shape, attrs),
    ({ inputs: [x, w], dys, attrs }) => depthwiseBackpropFilter(x, dys[0]!, w.shape, attrs),
    ({ dys }) => sum(dys[0]!, { axis: [0, 1, 2] }),
  ],
  cost([x, w], attrs) {
    const d = depthwiseDims('depthwiseConv2d', x.shape, w.shape, attrs);
    return {
      flops: convFlops(d) / d.cin,
      bytes: 4 * (sizeOf(x.shape) + sizeOf(w.shape) + d.n * d.oh * d.ow * d.cout),
    };
  },
  reference([x, w, bias], attrs) {
    return [refDepthwiseConv2d(x, w, bias, depthwiseDims('depthwiseConv2d', x.shape, w.shape, attrs))];
  },
};

export interface DepthwiseBackpropInputAttrs extends ConvAttrs {
  /** The forward input's shape [N,H,W,C] (not recoverable from dy when strides drop rows). */
  inputShape: readonly number[];
}

export const depthwiseConv2dBackpropInputOp: OpDef<DepthwiseBackpropInputAttrs> = {
  name: 'depthwiseConv2dBackpropInput',
  check([dy, w], attrs) {
    const op = 'depthwiseConv2dBackpropInput';
    if (attrs.inputShape.length !== 4) {
      throw new ShapeError(
        `${op}: argument 'inputShape' must be [N,H,W,C], got ${fmtShape(attrs.inputShape)}`,
      );
    }
    const d = checkDepthwiseArgs(op, { shape: attrs.inputShape, dtype: 'float32' }, w, attrs);
    checkDy(op, dy, d);
    return [{ shape: [...attrs.inputShape], dtype: 'float32' }];
  },
  forward(io, attrs) {
    const d = depthwiseDims('depthwiseConv2dBackpropInput', attrs.inputShape, io.inputs[1].spec.shape, attrs);
    const { cvIn, cvOut, mult, regions } = depthwiseLanes(d);
    const total = d.n * d.h * d.w * cvIn;
    return [
      {
        shader: 'depthwise_bpi',
        constants: { WG: CONV_WG },
        regions,
        uniforms: [...convUniforms(d), cvIn, cvOut, mult, total],
        buffers: [io.inputs[0].buffer, io.inputs[1].buffer, io.outputs[0].buffer],
        workgroups: workgroupsFor(total, CONV_WG),
      },
    ];
  },
  backward: null,
  cost([dy, w], attrs) {
    const d = depthwiseDims('depthwiseConv2dBackpropInput', attrs.inputShape, w.shape, attrs);
    return {
      flops: convFlops(d) / d.cin,
      bytes: 4 * (sizeOf(dy.shape) + sizeOf(w.shape) + sizeOf(attrs.inputShape)),
    };
  },
  reference([dy, w], attrs) {
    const d = depthwiseDims('depthwiseConv2dBackpropInput', attrs.inputShape, w.shape, attrs);
    return [refDepthwiseBackpropInput(dy, w, d)];
  },
};

export interface DepthwiseBackpropFilterAttrs extends ConvAttrs {
  /** The filter's shape [KH,KW,C,M] (KH and KW are not recoverable from x and dy). */
  filterShape: readonly number[];
}

/**
 * Length of each chunk of the N*OH*OW reduction of dw: split until about `threads` invocations run (2,048 on
 * CPU adapters, where each core thread runs one workgroup; 65,536 on GPUs), never into chunks under 64 steps
 * nor past llvmpipe's 65,535-iteration loop limit.
 */
export function depthwiseFilterChunk(d: ConvDims, software: boolean): number {
  const k = d.n * d.oh * d.ow;
  const perSplit = d.kh * d.kw * depthwiseLanes(d).cvOut;
  const threads = software ? 2048 : 65536;
  const splits = Math.max(
    1,
    Math.min(Math.ceil(threads / perSplit), Math.floor(k / 64), MAX_LOOP),
    Math.ceil(k / MAX_LOOP),
  );
  return Math.ceil(k / splits);
}

/** The dw dispatches with reduction chunks of `chunk` rows. Shapes: x [N,H,W,C], dy [N,OH,OW,C*M] → dw [KH,KW,C,M]. */
export function depthwiseFilterPlan(io: KernelIO, d: ConvDims, chunk: number): Dispatch[] {
  const k = d.n * d.oh * d.ow;
  const splits = Math.ceil(k / chunk);
  if (!(chunk >= 1) || chunk > MAX_LOOP || splits > MAX_LOOP) {
    throw new ArgumentError(
      `depthwiseConv2dBackpropFilter: chunk ${chunk} of ${k} gives loops past ${MAX_LOOP} iterations`,
    );
  }
  const { cvIn, cvOut, mult, regions } = depthwiseLanes(d);
  const size = d.kh * d.kw * d.cout;
  const dw = io.outputs[0].buffer;
  const part = splits === 1 ? dw : io.scratch(splits * size * 4);
  const total = splits * d.kh * d.kw * cvOut;
  const dispatches: Dispatch[] = [
    {
      shader: 'depthwise_bpf',
      constants: { WG: CONV_WG },
      regions,
      uniforms: [...convUniforms(d), cvIn, cvOut, mult, k, chunk, total],
      buffers: [io.inputs[0].buffer, io.inputs[1].buffer, part],
      workgroups: workgroupsFor(total, CONV_WG),
    },
  ];
  if (splits > 1) dispatches.push(sumPartsDispatch(part, dw, splits, size));
  return dispatches;
}

export const depthwiseConv2dBackpropFilterOp: OpDef<DepthwiseBackpropFilterAttrs> = {
  name: 'depthwiseConv2dBackpropFilter',
  check([x, dy], attrs) {
    const op = 'depthwiseConv2dBackpropFilter';
    if (attrs.filterShape.length !== 4) {
      throw new ShapeError(
        `${op}: argument 'filterShape' must be [KH,KW,C,M], got ${fmtShape(attrs.filterShape)}`,
      );
    }
    const w = { shape: attrs.filterShape, dtype: 'float32' as const };
    const d = checkDepthwiseArgs(op, x, w, attrs, 'filterShape');
    checkDy(op, dy, d);
    return [{ shape: [...attrs.filterShape], dtype: 'float32' }];
  },
  forward(io, attrs) {
    const d = depthwiseDims(
      'depthwiseConv2dBackpropFilter',
      io.inputs[0].spec.shape,
      attrs.filterShape,
      attrs,
    );
    return depthwiseFilterPlan(io, d, depthwiseFilterChunk(d, io.software));
  },
  backward: null,
  cost([x, dy], attrs) {
    const d = depthwiseDims('depthwiseConv2dBackpropFilter', x.shape, attrs.filterShape, attrs);
    return {
      flops: convFlops(d) / d.cin,
      bytes: 4 * (sizeOf(x.shape) + sizeOf(dy.shape) + sizeOf(attrs.filterShape)),
    };
  },
  reference([x, dy], attrs) {
    const d = depthwiseDims('depthwiseConv2dBackpropFilter', x.shape, attrs.filterShape, attrs);
    return [refDepthwiseBackpropFilter(x, dy, d)];
  },
};

/**
 * The gradient of depthwiseConv2d with respect to its input.
 * Shapes: dy [N,OH,OW,C*M], w [KH,KW,C,M], inputShape [N,H,W,C] → dx [N,H,W,C].
 */
export function depthwiseBackpropInput(
  dy: Tensor,
  w: Tensor,
  inputShape: readonly number[],
  attrs: ConvAttrs,
): Tensor {
  const a = { ...attrs, inputShape: [...inputShape] };
  return apply(depthwiseConv2dBackpropInputOp, [dy, w], a, ['dy', 'w']);
}

/**
 * The gradient of depthwiseConv2d with respect to its filter.
 * Shapes: x [N,H,W,C], dy [N,OH,OW,C*M], filterShape [KH,KW,C,M] → dw [KH,KW,C,M].
 */
export function depthwiseBackpropFilter(
  x: Tensor,
  dy: Tensor,
  filterShape: readonly number[],
  attrs: ConvAttrs,
): Tensor {
  const a = { ...attrs, filterShape: [...filterShape] };
  return apply(depthwiseConv2dBackpropFilterOp, [x, dy], a, ['x', 'dy']);
}

/** Options of depthwiseConv2d: conv2d's, without groups (the op is groups = C by definition). */
export type DepthwiseConv2dOptions = Omit<Conv2dOptions, 'groups'>;

/**
 * Depthwise 2-D convolution as tf.depthwiseConv2d: each input channel c convolved with its own M filters,
 * output channel c*M + m. conv2d with groups = Cin (w [KH,KW,1,C*M], the same memory) runs this op.
 * Shapes: x [N,H,W,C], w [KH,KW,C,M], bias [C*M] → [N,OH,OW,C*M].
 */
export function depthwiseConv2d(x: Tensor, w: Tensor, opts: DepthwiseConv2dOptions = {}): Tensor {
  checkOptionKeys('depthwiseConv2d', opts, ['stride', 'padding', 'dilation', 'bias']);
  const attrs = convAttrs('depthwiseConv2d', opts);
  return opts.bias
    ? apply(depthwiseConv2dOp, [x, w, opts.bias], attrs, ['x', 'w', 'bias'])
    : apply(depthwiseConv2dOp, [x, w], attrs, ['x', 'w']);
}
