// Float64 reference of dropout: the same PCG hash of (seed, i) as shaders/dropout.wgsl, in u32 arithmetic.
import type { RefTensor } from '../ops/types.js';

function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The saved mask: 1 / (1 - rate) where element i is kept, else 0. */
export function refDropoutMask(n: number, rate: number, seed: number): Float64Array {
  const scale = Math.fround(1 / (1 - rate));
  const r = Math.fround(rate);
  const s = pcg(seed);
  const mask = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = (pcg((i ^ s) >>> 0) >>> 8) / 16777216;
    mask[i] = u >= r ? scale : 0;
  }
  return mask;
}

export function refDropout(x: RefTensor, rate: number, seed: number): RefTensor[] {
  const mask = refDropoutMask(x.data.length, rate, seed);
  return [
    { shape: x.shape, data: x.data.map((v, i) => v * mask[i]) },
    { shape: x.shape, data: mask },
  ];
}
