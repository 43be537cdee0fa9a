// Float64 CPU reference for concat and the slice that is its backward pass.
import type { RefTensor } from '../ops/types.js';

/** Concatenates along `axis` (already non-negative); every input has the same shape except on that axis. */
export function refConcat(xs: readonly RefTensor[], axis: number): RefTensor {
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const data = new Float64Array(outer * shape[axis] * inner);
  let offset = 0;
  for (const x of xs) {
    const len = x.shape[axis] * inner;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < len; j++) data[o * shape[axis] * inner + offset + j] = x.data[o * len + j];
    offset += len;
  }
  return { shape, data };
}

/** The part [start, start + size) of x along `axis` (non-negative). */
export function refSlice(x: RefTensor, axis: number, start: number, size: number): RefTensor {
  const shape = [...x.shape];
  shape[axis] = size;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const data = new Float64Array(outer * size * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < size * inner; j++)
      data[o * size * inner + j] = x.data[(o * x.shape[axis] + start) * inner + j];
  return { shape, data };
}
