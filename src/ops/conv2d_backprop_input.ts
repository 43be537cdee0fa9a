// conv2d's backward pass to the input (dx): a gathering kernel with strides split into phases, and its variants.
import { ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { refConv2dBackpropInput } from '../reference/conv.js';
import { CONV_WG, checkConvArgs, checkDy, convFlops } from './conv2d.js';
import { convDims, type ConvAttrs, type ConvDims } from './conv_geometry.js';
import { sizeOf, type KernelIO, type OpDef } from './types.js';
import { workgroupsFor } from './util.js';

export interface BackpropInputAttrs extends ConvAttrs {
  /** The forward input's shape [N,H,W,Cin] (not recoverable from dy when strides drop rows). */
  inputShape: readonly number[];
}

/** dx variants: 'vec4' (Cin, Cout multiples of 4) and 'scalar' (any channel counts). */
export const BACKPROP_INPUT_VARIANTS = ['vec4', 'scalar'] as const;
export type BackpropInputVariant = (typeof BACKPROP_INPUT_VARIANTS)[number];

export interface BackpropInputChoice {
  variant: BackpropInputVariant;
  /** Pixels per invocation (same row and stride phase). */
  tm: number;
  /** Input-channel groups per invocation (vec4 groups for 'vec4', channels for 'scalar'). */
  tn: number;
}

export function backpropInputSupports(variant: BackpropInputVariant, d: ConvDims): boolean {
  return variant === 'scalar' || (d.cin % 4 === 0 && d.cout % 4 === 0);
}

/** The dx kernel for this adapter and shape. CPU adapters get wide register tiles, GPUs more invocations. */
export function chooseBackpropInput(cpu: boolean, d: ConvDims): BackpropInputChoice {
  if (backpropInputSupports('vec4', d)) return { variant: 'vec4', tm: cpu ? 4 : 2, tn: cpu ? 2 : 1 };
  return { variant: 'scalar', tm: cpu ? 4 : 2, tn: Math.min(d.cin, 4) };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The dispatch of one dx variant. Shapes: dy [N,OH,OW,Cout], w [KH,KW,Cin,Cout] → dx [N,H,W,Cin]. */
export function backpropInputPlan(io: KernelIO, d: ConvDims, choice: BackpropInputChoice): Dispatch[] {
  const { variant, tm, tn } = choice;
  if (!backpropInputSupports(variant, d)) {
    throw new ShapeError(
      `conv2dBackpropInput: variant '${variant}' needs Cin and Cout multiples of 4, got ${d.cin}, ${d.cout}`,
    );
  }
  const nGroups = Math.ceil(d.cin / (variant === 'vec4' ? 4 * tn : tn));
  const blocks = Math.ceil(Math.ceil(d.w / d.sw) / tm);
  const total = d.n * d.h * d.sw * blocks * nGroups;
  return [
    {
      shader: variant === 'vec4' ? 'conv2d_bpi_vec4' : 'conv2d_bpi_scalar',
      constants: { WG: CONV_WG, TM: tm, TN: tn },
      uniforms: [
        d.n,
        d.h,
        d.w,
        d.cin,
        d.oh,
        d.ow,
        d.cout,
        d.kh,
        d.kw,
        d.sh,
        d.sw,
        d.dh,
        d.dw,
        d.padTop,
        d.padLeft,
        d.sh / gcd(d.sh, d.dh),
        d.sw / gcd(d.sw, d.dw),
        blocks,
        nGroups,
        total,
      ],
      buffers: [io.inputs[0].buffer, io.inputs[1].buffer, io.outputs[0].buffer],
      workgroups: workgroupsFor(total, CONV_WG),
    },
  ];
}

function dimsOf(inputShape: readonly number[], wShape: readonly number[], attrs: ConvAttrs): ConvDims {
  return convDims('conv2dBackpropInput', inputShape, wShape, attrs);
}

export const conv2dBackpropInputOp: OpDef<BackpropInputAttrs> = {
  name: 'conv2dBackpropInput',
  check([dy, w], attrs) {
    if (attrs.inputShape.length !== 4) {
      throw new ShapeError(
        `conv2dBackpropInput: argument 'inputShape' must be [N,H,W,Cin], got ${fmtShape(attrs.inputShape)}`,
      );
    }
    const d = checkConvArgs('conv2dBackpropInput', { shape: attrs.inputShape, dtype: 'float32' }, w, attrs);
    checkDy('conv2dBackpropInput', dy, d);
    return [{ shape: [...attrs.inputShape], dtype: 'float32' }];
  },
  forward(io, attrs) {
    const d = dimsOf(attrs.inputShape, io.inputs[1].spec.shape, attrs);
    return backpropInputPlan(io, d, chooseBackpropInput(io.software, d));
  },
  backward: null,
  cost([dy, w], attrs) {
    const d = dimsOf(attrs.inputShape, w.shape, attrs);
    return {
      flops: convFlops(d),
      bytes: 4 * (sizeOf(dy.shape) + sizeOf(w.shape) + sizeOf(attrs.inputShape)),
    };
  },
  reference([dy, w], attrs) {
    return [refConv2dBackpropInput(dy, w, dimsOf(attrs.inputShape, w.shape, attrs))];
  },
};

/**
 * The gradient of conv2d with respect to its input.
 * Shapes: dy [N,OH,OW,Cout], w [KH,KW,Cin,Cout], inputShape [N,H,W,Cin] → dx [N,H,W,Cin].
 */
export function conv2dBackpropInput(
  dy: Tensor,
  w: Tensor,
  inputShape: readonly number[],
  attrs: ConvAttrs,
): Tensor {
  return apply(conv2dBackpropInputOp, [dy, w], { ...attrs, inputShape: [...inputShape] }, ['dy', 'w']);
}
