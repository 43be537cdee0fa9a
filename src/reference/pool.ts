// Float64 CPU reference for max and average pooling (NHWC) and their backward passes.
import type { WindowGeometry } from '../ops/conv_geometry.js';
import type { RefTensor } from '../ops/types.js';

/** Window sizes, strides and the resolved geometry of one pooling op. */
export interface PoolGeometry extends WindowGeometry {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
}

/** Calls f(output index, input index, spatial index y*W + x) for every in-bounds tap, in row-major window order. */
function forEachTap(
  shape: readonly number[],
  g: PoolGeometry,
  f: (out: number, inp: number, spatial: number) => void,
): void {
  const [n, h, w, c] = shape;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let k = 0; k < c; k++) {
          const out = ((b * g.outH + oy) * g.outW + ox) * c + k;
          for (let ky = 0; ky < g.kh; ky++)
            for (let kx = 0; kx < g.kw; kx++) {
              const y = oy * g.sh - g.padTop + ky;
              const x = ox * g.sw - g.padLeft + kx;
              if (y < 0 || y >= h || x < 0 || x >= w) continue;
              f(out, ((b * h + y) * w + x) * c + k, y * w + x);
            }
        }
}

function outShape(shape: readonly number[], g: PoolGeometry): number[] {
  return [shape[0], g.outH, g.outW, shape[3]];
}

/**
 * Max pooling ignoring padding; argmax is the spatial index y*W + x of the first maximum. A NaN tap wins and
 * stays (the first NaN), as in PyTorch.
 */
export function refMaxPool(x: RefTensor, g: PoolGeometry): [RefTensor, RefTensor] {
  const shape = outShape(x.shape, g);
  const size = shape.reduce((a, b) => a * b, 1);
  const y = new Float64Array(size).fill(-Infinity);
  const arg = new Float64Array(size).fill(-1);
  forEachTap(x.shape, g, (out, inp, spatial) => {
    const v = x.data[inp];
    if (arg[out] < 0 || (!Number.isNaN(y[out]) && (v > y[out] || Number.isNaN(v)))) {
      y[out] = v;
      arg[out] = spatial;
    }
  });
  return [
    { shape, data: y },
    { shape, data: arg },
  ];
}

/** dx[n, y, x, c] = sum of dy over windows whose argmax is y*W + x. */
export function refMaxPoolBackward(
  dy: RefTensor,
  argmax: RefTensor,
  inShape: readonly number[],
  g: PoolGeometry,
): RefTensor {
  const dx = new Float64Array(inShape.reduce((a, b) => a * b, 1));
  forEachTap(inShape, g, (out, inp, spatial) => {
    if (argmax.data[out] === spatial) dx[inp] += dy.data[out];
  });
  return { shape: inShape, data: dx };
}

function tapCounts(inShape: readonly number[], g: PoolGeometry): Float64Array {
  const counts = new Float64Array(inShape[0] * g.outH * g.outW * inShape[3]);
  forEachTap(inShape, g, (out) => counts[out]++);
  return counts;
}

/** Average pooling dividing by the number of in-bounds taps. */
export function refAvgPool(x: RefTensor, g: PoolGeometry): RefTensor {
  const shape = outShape(x.shape, g);
  const counts = tapCounts(x.shape, g);
  const y = new Float64Array(counts.length);
  forEachTap(x.shape, g, (out, inp) => (y[out] += x.data[inp] / counts[out]));
  return { shape, data: y };
}

/** dx = sum over windows containing the pixel of dy / count. */
export function refAvgPoolBackward(dy: RefTensor, inShape: readonly number[], g: PoolGeometry): RefTensor {
  const counts = tapCounts(inShape, g);
  const dx = new Float64Array(inShape.reduce((a, b) => a * b, 1));
  forEachTap(inShape, g, (out, inp) => (dx[inp] += dy.data[out] / counts[out]));
  return { shape: inShape, data: dx };
}
