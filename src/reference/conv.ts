// Naive float64 conv2d (NHWC input, HWIO filter) and its two backward passes: the oracle for the kernels.
import type { ConvDims } from '../ops/conv_geometry.js';
import type { RefTensor } from '../ops/types.js';

/**
 * Calls `f(xIndex, wIndex, outIndex)` for every in-bounds tap of every output element: the one loop nest
 * that the forward pass and both backward passes share, so their index arithmetic cannot disagree.
 */
function forEachTap(d: ConvDims, f: (xi: number, wi: number, oi: number) => void): void {
  for (let n = 0; n < d.n; n++)
    for (let oh = 0; oh < d.oh; oh++)
      for (let ow = 0; ow < d.ow; ow++)
        for (let kh = 0; kh < d.kh; kh++) {
          const ih = oh * d.sh - d.padTop + kh * d.dh;
          if (ih < 0 || ih >= d.h) continue;
          for (let kw = 0; kw < d.kw; kw++) {
            const iw = ow * d.sw - d.padLeft + kw * d.dw;
            if (iw < 0 || iw >= d.w) continue;
            for (let ci = 0; ci < d.cin; ci++) {
              const xi = ((n * d.h + ih) * d.w + iw) * d.cin + ci;
              for (let co = 0; co < d.cout; co++) {
                f(
                  xi,
                  ((kh * d.kw + kw) * d.cin + ci) * d.cout + co,
                  ((n * d.oh + oh) * d.ow + ow) * d.cout + co,
                );
              }
            }
          }
        }
}

/** out = conv2d(x, w) (+ bias). Shapes: x [N,H,W,Cin], w [KH,KW,Cin,Cout], bias [Cout] → [N,OH,OW,Cout]. */
export function refConv2d(x: RefTensor, w: RefTensor, bias: RefTensor | undefined, d: ConvDims): RefTensor {
  const out = new Float64Array(d.n * d.oh * d.ow * d.cout);
  if (bias) for (let i = 0; i < out.length; i++) out[i] = bias.data[i % d.cout];
  forEachTap(d, (xi, wi, oi) => {
    out[oi] += x.data[xi] * w.data[wi];
  });
  return { shape: [d.n, d.oh, d.ow, d.cout], data: out };
}

/** dx of conv2d. Shapes: dy [N,OH,OW,Cout], w [KH,KW,Cin,Cout] → dx [N,H,W,Cin]. */
export function refConv2dBackpropInput(dy: RefTensor, w: RefTensor, d: ConvDims): RefTensor {
  const dx = new Float64Array(d.n * d.h * d.w * d.cin);
  forEachTap(d, (xi, wi, oi) => {
    dx[xi] += dy.data[oi] * w.data[wi];
  });
  return { shape: [d.n, d.h, d.w, d.cin], data: dx };
}

/** dw of conv2d. Shapes: x [N,H,W,Cin], dy [N,OH,OW,Cout] → dw [KH,KW,Cin,Cout]. */
export function refConv2dBackpropFilter(x: RefTensor, dy: RefTensor, d: ConvDims): RefTensor {
  const dw = new Float64Array(d.kh * d.kw * d.cin * d.cout);
  forEachTap(d, (xi, wi, oi) => {
    dw[wi] += x.data[xi] * dy.data[oi];
  });
  return { shape: [d.kh, d.kw, d.cin, d.cout], data: dw };
}
