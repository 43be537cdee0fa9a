// Image transforms at known parameters (crop, flip, affine warp, jitter, erase) and the affine matrix (wgpu-matrix).
import { mat3d, type Mat3d } from 'wgpu-matrix';

/** One HWC image's geometry. */
export interface ImageShape {
  h: number;
  w: number;
  c: number;
}

/**
 * Crop of the padded image at offset (dy, dx) in [0, 2*pad]: dst[y, x] = padded[y + dy, x + dx] where padded has
 * `pad` pixels of zeros ('zero') or of the mirrored image without its edge ('reflect', as numpy/torch 'reflect').
 * Shapes: src and dst h*w*c.
 */
export function cropPadded(
  src: Float32Array,
  dst: Float32Array,
  { h, w, c }: ImageShape,
  pad: number,
  mode: 'zero' | 'reflect',
  dy: number,
  dx: number,
): void {
  const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  for (let y = 0; y < h; y++) {
    let sy = y + dy - pad;
    if (sy < 0 || sy >= h) {
      if (mode === 'zero') {
        dst.fill(0, y * w * c, (y + 1) * w * c);
        continue;
      }
      sy = reflect(sy, h);
    }
    for (let x = 0; x < w; x++) {
      let sx = x + dx - pad;
      const o = (y * w + x) * c;
      if (sx < 0 || sx >= w) {
        if (mode === 'zero') {
          for (let k = 0; k < c; k++) dst[o + k] = 0;
          continue;
        }
        sx = reflect(sx, w);
      }
      const s = (sy * w + sx) * c;
      for (let k = 0; k < c; k++) dst[o + k] = src[s + k];
    }
  }
}

/** Mirrors left and right. Shapes: src and dst h*w*c (not the same array). */
export function flipHorizontal(src: Float32Array, dst: Float32Array, { h, w, c }: ImageShape): void {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * c;
      const s = (y * w + (w - 1 - x)) * c;
      for (let k = 0; k < c; k++) dst[o + k] = src[s + k];
    }
  }
}

/** Parameters of one affine warp: degrees counter-clockwise (as seen with y down), shear in degrees along x. */
export interface AffineParams {
  angle: number;
  /** Shift in pixels. */
  tx: number;
  ty: number;
  scale: number;
  shear: number;
}

/**
 * The 3x3 matrix that maps output pixel coordinates to input coordinates (the inverse of the warp
 * p' = center + t + R(-angle) * Shear * Scale * (p - center), in pixel units with centers at +0.5).
 */
export function affineInverse(params: AffineParams, h: number, w: number): Mat3d {
  const rad = (d: number) => (d * Math.PI) / 180;
  const cx = w / 2;
  const cy = h / 2;
  // Column-major: the shear moves x by tan(shear) * y.
  const shear = mat3d.create(1, 0, 0, Math.tan(rad(params.shear)), 1, 0, 0, 0, 1);
  let forward = mat3d.translation([cx + params.tx, cy + params.ty]);
  // With y pointing down, a counter-clockwise turn on screen is a negative rotation of the coordinates.
  forward = mat3d.multiply(forward, mat3d.rotation(-rad(params.angle)));
  forward = mat3d.multiply(forward, shear);
  forward = mat3d.multiply(forward, mat3d.uniformScaling(params.scale));
  forward = mat3d.multiply(forward, mat3d.translation([-cx, -cy]));
  return mat3d.inverse(forward);
}

/**
 * Resamples src through `inverse` (output pixel coordinates to input ones): each output pixel center
 * (x + 0.5, y + 0.5) maps to an input point, read bilinearly from the four nearest pixel centers; taps outside the
 * image read `fill` (torch grid_sample with align_corners=False and constant padding). The identity matrix copies
 * exactly. Shapes: src and dst h*w*c (not the same array).
 */
export function warpAffine(
  src: Float32Array,
  dst: Float32Array,
  { h, w, c }: ImageShape,
  inverse: Mat3d,
  fill: number,
): void {
  // Column-major 3x3 in 12 slots: x = m0 X + m4 Y + m8, y = m1 X + m5 Y + m9.
  const [m0, m1, , , m4, m5, , , m8, m9] = inverse;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = m0 * (x + 0.5) + m4 * (y + 0.5) + m8 - 0.5;
      const sy = m1 * (x + 0.5) + m5 * (y + 0.5) + m9 - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const o = (y * w + x) * c;
      const in0 = y0 >= 0 && y0 < h;
      const in1 = y0 + 1 >= 0 && y0 + 1 < h;
      const inx0 = x0 >= 0 && x0 < w;
      const inx1 = x0 + 1 >= 0 && x0 + 1 < w;
      for (let k = 0; k < c; k++) {
        const v00 = in0 && inx0 ? src[(y0 * w + x0) * c + k] : fill;
        const v01 = in0 && inx1 ? src[(y0 * w + x0 + 1) * c + k] : fill;
        const v10 = in1 && inx0 ? src[((y0 + 1) * w + x0) * c + k] : fill;
        const v11 = in1 && inx1 ? src[((y0 + 1) * w + x0 + 1) * c + k] : fill;
        const top = v00 + (v01 - v00) * fx;
        const bottom = v10 + (v11 - v10) * fx;
        dst[o + k] = top + (bottom - top) * fy;
      }
    }
  }
}

/** In place: x * brightness, then (x - mean) * contrast + mean with the mean over the whole image. */
export function jitter(img: Float32Array, brightness: number, contrast: number): void {
  let sum = 0;
  for (let i = 0; i < img.length; i++) {
    img[i] *= brightness;
    sum += img[i];
  }
  const mean = sum / img.length;
  for (let i = 0; i < img.length; i++) img[i] = (img[i] - mean) * contrast + mean;
}

/** In place: rows [top, top + eh) and columns [left, left + ew), clipped to the image, set to `value`. */
export function fillRect(
  img: Float32Array,
  { h, w, c }: ImageShape,
  top: number,
  left: number,
  eh: number,
  ew: number,
  value: number,
): void {
  const y1 = Math.min(h, top + eh);
  const x1 = Math.min(w, left + ew);
  for (let y = Math.max(0, top); y < y1; y++) {
    img.fill(value, (y * w + Math.max(0, left)) * c, (y * w + x1) * c);
  }
}
