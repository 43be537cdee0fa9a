// conv2dTranspose: the public transposed convolution (tfjs's), through conv2d's backward-to-input kernel, with
// its own gradients: dx is conv2d of dy, dw the filter gradient with the roles of x and dy swapped.
import { ShapeError } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { checkOptionKeys } from '../options.js';
import { conv2d, convAttrs, type Conv2dOptions } from './conv2d.js';
import { conv2dBackpropFilter } from './conv2d_backprop_filter.js';
import { conv2dBackpropInputOp } from './conv2d_backprop_input.js';
import type { ConvAttrs } from './conv_geometry.js';
import type { OpDef } from './types.js';

type TransposeAttrs = ConvAttrs & { inputShape: readonly number[] };

export const conv2dTransposeOp: OpDef<TransposeAttrs> = {
  ...(conv2dBackpropInputOp as OpDef<TransposeAttrs>),
  name: 'conv2dTranspose',
  backward: [
    ({ inputs: [, w], dys, attrs }) =>
      conv2d(dys[0]!, w, { stride: attrs.stride, padding: attrs.padding, dilation: attrs.dilation }),
    ({ inputs: [x, w], dys, attrs }) =>
      conv2dBackpropFilter(dys[0]!, x, w.shape, {
        stride: attrs.stride,
        padding: attrs.padding,
        dilation: attrs.dilation,
      }),
  ],
};

export interface Conv2dTransposeOptions extends Omit<Conv2dOptions, 'bias'> {
  /** [N, H, W, Cout] of the result: the input shape of the convolution this one transposes. */
  outputShape: readonly number[];
}

/**
 * Shapes: x [N,H,W,Cin], w [KH,KW,Cout,Cin] (tfjs's layout) → outputShape [N,OH,OW,Cout], where a conv2d with
 * the same stride, padding and dilation maps outputShape back to x's shape.
 */
export function conv2dTranspose(x: Tensor, w: Tensor, options: Conv2dTransposeOptions): Tensor {
  checkOptionKeys('conv2dTranspose', options ?? {}, ['outputShape', 'stride', 'padding', 'dilation']);
  const { outputShape, ...rest } = options ?? ({} as Conv2dTransposeOptions);
  if (
    !Array.isArray(outputShape) ||
    outputShape.length !== 4 ||
    outputShape.some((d) => !Number.isInteger(d) || d < 1)
  )
    throw new ShapeError(
      `conv2dTranspose: option 'outputShape' must be [N, OH, OW, Cout], got ${JSON.stringify(outputShape)}`,
    );
  const attrs = convAttrs('conv2dTranspose', rest);
  return apply(conv2dTransposeOp, [x, w], { ...attrs, inputShape: [...outputShape] }, ['x', 'w']);
}
