// Float64 CPU reference for cropFlip (crops of padded, optionally mirrored NHWC images) and its backward pass.
import type { RefTensor } from '../ops/types.js';

/** One view: a crop at (top, left) of the zero-padded image, mirrored left-right first when `flip`. */
export interface CropView {
  top: number;
  left: number;
  flip: boolean;
}

export interface CropFlipAttrs {
  views: readonly CropView[];
  /** [OH, OW] of every crop. */
  size: readonly [number, number];
  /** Zero pixels added on every side before cropping. */
  pad: number;
}

/**
 * For every view v, image n and crop pixel (oy, ox): the index of the source element in x, or -1 where the
 * crop covers padding. Written the naive way (pad, mirror the padded image, crop) as the oracle for the
 * kernels' direct index arithmetic.
 */
function forEachCropPixel(
  inShape: readonly number[],
  a: CropFlipAttrs,
  f: (out: number, src: number) => void,
): void {
  const [n, h, w, c] = inShape;
  const [oh, ow] = a.size;
  const paddedW = w + 2 * a.pad;
  a.views.forEach((view, v) => {
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          const py = view.top + oy;
          const pxMirrored = view.left + ox;
          const px = view.flip ? paddedW - 1 - pxMirrored : pxMirrored;
          const y = py - a.pad;
          const x = px - a.pad;
          const inside = y >= 0 && y < h && x >= 0 && x < w;
          for (let k = 0; k < c; k++) {
            const out = (((v * n + b) * oh + oy) * ow + ox) * c + k;
            f(out, inside ? ((b * h + y) * w + x) * c + k : -1);
          }
        }
  });
}

/** Shapes: x [N,H,W,C] → [V*N, OH, OW, C], view-major (rows v*N .. v*N+N-1 are view v). */
export function refCropFlip(x: RefTensor, a: CropFlipAttrs): RefTensor {
  const [n, , , c] = x.shape;
  const shape = [a.views.length * n, a.size[0], a.size[1], c];
  const data = new Float64Array(shape.reduce((p, d) => p * d, 1));
  forEachCropPixel(x.shape, a, (out, src) => (data[out] = src < 0 ? 0 : x.data[src]));
  return { shape, data };
}

/** The adjoint of refCropFlip: every crop pixel's gradient added to the pixel it was read from. */
export function refCropFlipBackward(dy: RefTensor, a: CropFlipAttrs, inShape: readonly number[]): RefTensor {
  const data = new Float64Array(inShape.reduce((p, d) => p * d, 1));
  forEachCropPixel(inShape, a, (out, src) => {
    if (src >= 0) data[src] += dy.data[out];
  });
  return { shape: [...inShape], data };
}
