// Convolution and pooling window geometry (strides, dilations, TensorFlow 'same'/'valid'/explicit padding).
import { ArgumentError, ShapeError } from '../errors.js';

/** A per-axis value: one number for both spatial axes, or [h, w]. */
export type Pair = number | readonly [number, number];

/**
 * Padding as TensorFlow spells it: 'valid' (none), 'same' (out = ceil(in / stride), odd pixel to
 * bottom/right), one number for all four sides, or explicit [[top, bottom], [left, right]].
 */
export type Padding =
  'same' | 'valid' | number | readonly [readonly [number, number], readonly [number, number]];

/** Output size and the padding on each side of one 2-D window op. */
export interface WindowGeometry {
  outH: number;
  outW: number;
  padTop: number;
  padLeft: number;
  padBottom: number;
  padRight: number;
}

/** Turns a number or [h, w] into [h, w] of positive integers; throws ArgumentError naming op and argument. */
export function normalizePair(op: string, arg: string, v: Pair): [number, number] {
  const pair: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((typeof v !== 'number' && v.length !== 2) || !pair.every((p) => Number.isInteger(p) && p >= 1)) {
    throw new ArgumentError(
      `${op}: argument '${arg}' must be a positive integer or [h, w], got ${JSON.stringify(v)}`,
    );
  }
  return pair;
}

function explicitPads(op: string, padding: Padding): [number, number, number, number] {
  const p =
    typeof padding === 'number'
      ? [padding, padding, padding, padding]
      : [padding[0]?.[0], padding[0]?.[1], padding[1]?.[0], padding[1]?.[1]];
  if (!p.every((v) => Number.isInteger(v) && (v as number) >= 0)) {
    throw new ArgumentError(
      `${op}: argument 'padding' must be 'same', 'valid', a non-negative integer or [[top,bottom],[left,right]], got ${JSON.stringify(padding)}`,
    );
  }
  return p as [number, number, number, number];
}

/**
 * Output size and padding of a window op following TensorFlow exactly. kEff = (k - 1) * dilation + 1;
 * 'same': out = ceil(in / stride), padTotal = max((out - 1) * stride + kEff - in, 0), the odd pixel to the
 * bottom/right; otherwise out = floor((in + padBefore + padAfter - kEff) / stride) + 1, which must be >= 1.
 * Shapes: inH, inW input spatial size; kH, kW window size → outH, outW and the four paddings.
 */
export function resolvePadding(
  op: string,
  inH: number,
  inW: number,
  kH: number,
  kW: number,
  strideHW: readonly [number, number],
  dilationHW: readonly [number, number],
  padding: Padding,
): WindowGeometry {
  const kEffH = (kH - 1) * dilationHW[0] + 1;
  const kEffW = (kW - 1) * dilationHW[1] + 1;
  let pads: [number, number, number, number];
  if (padding === 'same') {
    const outH = Math.ceil(inH / strideHW[0]);
    const outW = Math.ceil(inW / strideHW[1]);
    const totalH = Math.max((outH - 1) * strideHW[0] + kEffH - inH, 0);
    const totalW = Math.max((outW - 1) * strideHW[1] + kEffW - inW, 0);
    const top = Math.floor(totalH / 2);
    const left = Math.floor(totalW / 2);
    pads = [top, totalH - top, left, totalW - left];
  } else if (padding === 'valid') {
    pads = [0, 0, 0, 0];
  } else {
    pads = explicitPads(op, padding);
  }
  const [padTop, padBottom, padLeft, padRight] = pads;
  const outH = Math.floor((inH + padTop + padBottom - kEffH) / strideHW[0]) + 1;
  const outW = Math.floor((inW + padLeft + padRight - kEffW) / strideHW[1]) + 1;
  if (outH < 1 || outW < 1) {
    throw new ShapeError(
      `${op}: window ${kEffH}x${kEffW} (kernel ${kH}x${kW}, dilation ${dilationHW.join('x')}) does not fit input ${inH}x${inW} with padding ${JSON.stringify(padding)}`,
    );
  }
  return { outH, outW, padTop, padLeft, padBottom, padRight };
}

/** Normalized attributes shared by conv2d and its two backward passes. */
export interface ConvAttrs {
  stride: [number, number];
  dilation: [number, number];
  padding: Padding;
}

/** Every size a conv2d kernel needs, with the padding resolved (top/left; bottom/right follow from OH/OW). */
export interface ConvDims {
  n: number;
  h: number;
  w: number;
  cin: number;
  kh: number;
  kw: number;
  cout: number;
  oh: number;
  ow: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  padTop: number;
  padLeft: number;
}

/**
 * The geometry every conv kernel's `Params` struct starts with, in this order:
 * N, H, W, Cin, OH, OW, Cout, KH, KW, SH, SW, DH, DW, padTop, padLeft.
 */
export function convUniforms(d: ConvDims): number[] {
  return [d.n, d.h, d.w, d.cin, d.oh, d.ow, d.cout, d.kh, d.kw, d.sh, d.sw, d.dh, d.dw, d.padTop, d.padLeft];
}

/**
 * Resolves conv2d geometry from the input and filter shapes (both already rank-checked).
 * Shapes: x [N,H,W,Cin], w [KH,KW,Cin,Cout] → output [N,OH,OW,Cout].
 */
export function convDims(
  op: string,
  xShape: readonly number[],
  wShape: readonly number[],
  attrs: ConvAttrs,
): ConvDims {
  const [n, h, w, cin] = xShape;
  const [kh, kw, , cout] = wShape;
  const g = resolvePadding(op, h, w, kh, kw, attrs.stride, attrs.dilation, attrs.padding);
  return {
    n,
    h,
    w,
    cin,
    kh,
    kw,
    cout,
    oh: g.outH,
    ow: g.outW,
    sh: attrs.stride[0],
    sw: attrs.stride[1],
    dh: attrs.dilation[0],
    dw: attrs.dilation[1],
    padTop: g.padTop,
    padLeft: g.padLeft,
  };
}
