// Grouped convolution: groups = Cin runs the depthwise kernels (depthwise.ts); other groups split the channels,
// one conv2d per group on its slice of the filter, concatenated, so every backward pass is conv2d's and concat's.
import { ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../graph/tensor.js';
import { add } from './arithmetic.js';
import { concat } from './concat.js';
import { conv2d, type Conv2dOptions } from './conv2d.js';
import { depthwiseConv2d } from './depthwise.js';
import { split } from './layout.js';
import { reshape } from './reshape.js';

/**
 * Shapes: x [N,H,W,Cin], w [KH,KW,Cin/groups,Cout] with Cout a multiple of groups → [N,OH,OW,Cout]; output
 * channels [g*Cout/groups, (g+1)*Cout/groups) see input channels [g*Cin/groups, (g+1)*Cin/groups) (PyTorch's
 * and Keras's grouping).
 */
export function groupedConv2d(x: Tensor, w: Tensor, groups: number, options: Conv2dOptions): Tensor {
  if (!Number.isInteger(groups) || groups < 1)
    throw new ShapeError(`conv2d: option 'groups' must be an integer >= 1, got ${String(groups)}`);
  const cin = x?.shape?.[3];
  const [, , wcin, cout] = w?.shape ?? [];
  if (x?.rank !== 4 || w?.rank !== 4 || cin % groups !== 0 || cout % groups !== 0 || wcin * groups !== cin) {
    throw new ShapeError(
      `conv2d: with groups ${groups}, x [N,H,W,Cin] and w [KH,KW,Cin/groups,Cout] need Cin and Cout divisible by groups; got x ${fmtShape(x?.shape ?? [])} and w ${fmtShape(w?.shape ?? [])}`,
    );
  }
  if (groups === cin) {
    // [KH,KW,1,C*M] and [KH,KW,C,M] are the same memory: the reshape is a view.
    const [kh, kw] = w.shape;
    return depthwiseConv2d(x, reshape(w, [kh, kw, cin, cout / cin]), options);
  }
  const { bias, ...conv } = options;
  const xs = split(x, groups, 3);
  const ws = split(w, groups, 3);
  const y = concat(
    xs.map((xg, g) => conv2d(xg, ws[g], conv)),
    3,
  );
  return bias ? add(y, bias) : y;
}
