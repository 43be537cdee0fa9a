// Naive float64 depthwise conv2d (NHWC input, [KH,KW,C,M] filter) and its two backward passes: the oracle.
import type { ConvDims } from '../ops/conv_geometry.js';
import type { RefTensor } from '../ops/types.js';

/**
 * Calls `f(xIndex, wIndex, outIndex)` for every in-bounds tap of every output element (d.cout = C*M, output
 * channel c*M + m reads input channel c): the loop nest the three passes share.
 */
function forEachTap(d: ConvDims, f: (xi: number, wi: number, oi: number) => void): void {
  const mult = d.cout / d.cin;
  for (let n = 0; n < d.n; n++)
    for (let oh = 0; oh < d.oh; oh++)
      for (let ow = 0; ow < d.ow; ow++)
        for (let kh = 0; kh < d.kh; kh++) {
          const ih = oh * d.sh - d.padTop + kh * d.dh;
          if (ih < 0 || ih >= d.h) continue;
          for (let kw = 0; kw < d.kw; kw++) {
            const iw = ow * d.sw - d.padLeft + kw * d.dw;
            if (iw < 0 || iw >= d.w) continue;
            for (let co = 0; co < d.cout; co++) {
              f(
                ((n * d.h + ih) * d.w + iw) * d.cin + Math.floor(co / mult),
                (kh * d.kw + kw) * d.cout + co,
                ((n * d.oh + oh) * d.ow + ow) * d.cout + co,
              );
            }
          }
        }
}

/** Shapes: x [N,H,W,C], w [KH,KW,C,M], bias [C*M] → [N,OH,OW,C*M]. */
export function refDepthwiseConv2d(
  x: RefTensor,
  w: RefTensor,
  bias: RefTensor | undefined,
  d: ConvDims,
): RefTensor {
  const out = new Float64Array(d.n * d.oh * d.ow * d.cout);
  if (bias) for (let i = 0; i < out.length; i++) out[i] = bias.data[i % d.cout];
  forEachTap(d, (xi, wi, oi) => {
    out[oi] += x.data[xi] * w.data[wi];
  });
  return { shape: [d.n, d.oh, d.ow, d.cout], data: out };
}

/** dx. Shapes: dy [N,OH,OW,C*M], w [KH,KW,C,M] → dx [N,H,W,C]. */
export function refDepthwiseBackpropInput(dy: RefTensor, w: RefTensor, d: ConvDims): RefTensor {
  const dx = new Float64Array(d.n * d.h * d.w * d.cin);
  forEachTap(d, (xi, wi, oi) => {
    dx[xi] += dy.data[oi] * w.data[wi];
  });
  return { shape: [d.n, d.h, d.w, d.cin], data: dx };
}

/** dw. Shapes: x [N,H,W,C], dy [N,OH,OW,C*M] → dw [KH,KW,C,M]. */
export function refDepthwiseBackpropFilter(x: RefTensor, dy: RefTensor, d: ConvDims): RefTensor {
  const dw = new Float64Array(d.kh * d.kw * d.cout);
  forEachTap(d, (xi, wi, oi) => {
    dw[wi] += x.data[xi] * dy.data[oi];
  });
  return { shape: [d.kh, d.kw, d.cin, d.cout / d.cin], data: dw };
}
