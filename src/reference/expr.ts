// Float64 reference of the elementwise code generator: evaluates an expression tree per output element,
// reading each input through its view (strides per output axis and an offset), as the kernel does.
import type { InputView } from '../ops/elementwise/codegen.js';
import { evalScalar, type Expr } from '../ops/elementwise/expr.js';
import { sizeOf, type RefTensor } from '../ops/types.js';

export function refElementwise(
  expr: Expr,
  inputs: readonly RefTensor[],
  views: readonly InputView[],
  shape: readonly number[],
): RefTensor {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  const coord = new Array<number>(shape.length).fill(0);
  const values = new Array<number>(inputs.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < inputs.length; k++) {
      let at = views[k].offset;
      for (let d = 0; d < shape.length; d++) at += coord[d] * views[k].strides[d];
      values[k] = inputs[k].data[at];
    }
    data[i] = evalScalar(expr, values);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
  return { shape, data };
}
