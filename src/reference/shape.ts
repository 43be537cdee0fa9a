// Float64 reference of the layout ops that are not plain strided views: lattice padding and gather.
import { sizeOf, type RefTensor } from '../ops/types.js';

/** out[c] = x[(c - lo) / step] on x's lattice along every axis, else `value` (pad, slice's backward). */
export function refLattice(
  x: RefTensor,
  shape: readonly number[],
  lo: readonly number[],
  step: readonly number[],
  value: number,
): RefTensor {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  const strides = x.shape.map((_, d) => sizeOf(x.shape.slice(d + 1)));
  for (let i = 0; i < n; i++) {
    let rest = i;
    let at = 0;
    let inside = true;
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = rest % shape[d];
      rest = Math.floor(rest / shape[d]);
      const t = (c - lo[d]) * Math.sign(step[d]);
      const j = t / Math.abs(step[d]);
      if (t < 0 || !Number.isInteger(j) || j >= x.shape[d]) inside = false;
      else at += j * strides[d];
    }
    data[i] = inside ? x.data[at] : value;
  }
  return { shape, data };
}

/** x viewed as [outer, D, inner] → [outer, J, inner] with out[o, j, c] = x[o, indices[j], c]. */
export function refGather(x: RefTensor, indices: RefTensor, axis: number): RefTensor {
  const outer = sizeOf(x.shape.slice(0, axis));
  const d = x.shape[axis];
  const inner = sizeOf(x.shape.slice(axis + 1));
  const j = indices.data.length;
  const data = new Float64Array(outer * j * inner);
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < j; k++)
      for (let c = 0; c < inner; c++) {
        const at = indices.data[k];
        data[(o * j + k) * inner + c] = at >= 0 && at < d ? x.data[(o * d + at) * inner + c] : 0;
      }
  return { shape: [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], data };
}

/** The adjoint of refGather: dx[o, k, c] = sum over j with indices[j] == k of dy[o, j, c]. */
export function refGatherBackward(
  dy: RefTensor,
  indices: RefTensor,
  shape: readonly number[],
  axis: number,
): RefTensor {
  const outer = sizeOf(shape.slice(0, axis));
  const d = shape[axis];
  const inner = sizeOf(shape.slice(axis + 1));
  const j = indices.data.length;
  const data = new Float64Array(sizeOf(shape));
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < j; k++)
      for (let c = 0; c < inner; c++) {
        const at = indices.data[k];
        if (at >= 0 && at < d) data[(o * d + at) * inner + c] += dy.data[(o * j + k) * inner + c];
      }
  return { shape, data };
}
