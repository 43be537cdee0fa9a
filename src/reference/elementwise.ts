// Float64 CPU reference for elementwise maps written as plain functions (relu's backward pass).
import type { RefTensor } from '../ops/types.js';

export function refMap(x: RefTensor, f: (v: number, i: number) => number): RefTensor {
  return { shape: x.shape, data: x.data.map(f) };
}
