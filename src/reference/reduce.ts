// Float64 reference of the reductions over any axes and of argmax/argmin along one axis.
import { sizeOf, type RefTensor } from '../ops/types.js';

const nanMax = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
const nanMin = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));

/** Reduces x over `axes` (sum, mean, max or min); the result has `shape` (reduced axes dropped or kept as 1). */
export function refReduceAxes(
  x: RefTensor,
  axes: readonly number[],
  op: 'sum' | 'mean' | 'max' | 'min',
  shape: readonly number[],
): RefTensor {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const n = sizeOf(kept);
  const init = op === 'max' ? -Infinity : op === 'min' ? Infinity : 0;
  const data = new Float64Array(n).fill(init);
  const coord = new Array<number>(x.shape.length).fill(0);
  for (let i = 0; i < x.data.length; i++) {
    let at = 0;
    for (let d = 0; d < kept.length; d++) at = at * kept[d] + (axes.includes(d) ? 0 : coord[d]);
    const v = x.data[i];
    data[at] = op === 'max' ? nanMax(data[at], v) : op === 'min' ? nanMin(data[at], v) : data[at] + v;
    for (let d = x.shape.length - 1; d >= 0; d--) {
      if (++coord[d] < x.shape[d]) break;
      coord[d] = 0;
    }
  }
  if (op === 'mean') {
    const count = sizeOf(axes.map((a) => x.shape[a]));
    for (let i = 0; i < n; i++) data[i] /= Math.max(1, count);
  }
  return { shape, data };
}

/** Index of the extreme along `axis`: first on ties, the first NaN wins. Values are the indices, as numbers. */
export function refArgReduce(x: RefTensor, axis: number, op: 'argmax' | 'argmin'): RefTensor {
  const outer = sizeOf(x.shape.slice(0, axis));
  const r = x.shape[axis];
  const inner = sizeOf(x.shape.slice(axis + 1));
  const data = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < inner; c++) {
      let best = x.data[o * r * inner + c];
      let at = 0;
      for (let k = 1; k < r && !Number.isNaN(best); k++) {
        const v = x.data[(o * r + k) * inner + c];
        if (Number.isNaN(v) || (op === 'argmax' ? v > best : v < best)) {
          best = v;
          at = k;
        }
      }
      data[o * inner + c] = at;
    }
  }
  return { shape: x.shape.filter((_, i) => i !== axis), data };
}
