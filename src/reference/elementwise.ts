// Float64 CPU reference for elementwise ops, reductions over a middle axis, and broadcasts.
import type { RefTensor } from '../ops/types.js';

/** out[i] = f(a[i % aLen], b[i % bLen]) with the longer operand's shape. */
export function refBinary(a: RefTensor, b: RefTensor, f: (x: number, y: number) => number): RefTensor {
  const out = a.data.length >= b.data.length ? a : b;
  const data = new Float64Array(out.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f(a.data[i % a.data.length], b.data[i % b.data.length]);
  return { shape: out.shape, data };
}

export function refMap(x: RefTensor, f: (v: number, i: number) => number): RefTensor {
  return { shape: x.shape, data: x.data.map(f) };
}

/** Sums x viewed as [outer, r, inner] over the middle axis, times scale: result [outer, inner] with `shape`. */
export function refReduce(
  x: RefTensor,
  outer: number,
  r: number,
  inner: number,
  scale: number,
  shape: readonly number[],
): RefTensor {
  const data = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < r; k++)
      for (let c = 0; c < inner; c++) data[o * inner + c] += x.data[(o * r + k) * inner + c];
  for (let i = 0; i < data.length; i++) data[i] *= scale;
  return { shape, data };
}

/** Repeats x [outer, inner] along a middle axis of length r, times scale: result has `shape`. */
export function refBroadcast(
  x: RefTensor,
  outer: number,
  r: number,
  inner: number,
  scale: number,
  shape: readonly number[],
): RefTensor {
  const data = new Float64Array(outer * r * inner);
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < r; k++)
      for (let c = 0; c < inner; c++) data[(o * r + k) * inner + c] = x.data[o * inner + c] * scale;
  return { shape, data };
}
