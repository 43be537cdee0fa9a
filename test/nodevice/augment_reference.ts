// Float64 oracles of the augmentation transforms, written from the definitions (no wgpu-matrix, no shared code).

/** Crop of the padded image: the padded image is built explicitly, then sliced at (dy, dx). */
export function refCrop(
  src: ArrayLike<number>,
  h: number,
  w: number,
  c: number,
  pad: number,
  mode: 'zero' | 'reflect',
  dy: number,
  dx: number,
): Float64Array {
  const ph = h + 2 * pad;
  const pw = w + 2 * pad;
  const padded = new Float64Array(ph * pw * c);
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      let sy = y - pad;
      let sx = x - pad;
      const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
      if (!inside && mode === 'zero') continue;
      // numpy.pad(mode='reflect'): mirror about the edge pixel, which is not repeated.
      if (sy < 0) sy = -sy;
      if (sy >= h) sy = 2 * (h - 1) - sy;
      if (sx < 0) sx = -sx;
      if (sx >= w) sx = 2 * (w - 1) - sx;
      for (let k = 0; k < c; k++) padded[(y * pw + x) * c + k] = src[(sy * w + sx) * c + k];
    }
  }
  const out = new Float64Array(h * w * c);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = padded[((y + dy) * pw + x + dx) * c + k];
  return out;
}

/** Left-right mirror. */
export function refFlip(src: ArrayLike<number>, h: number, w: number, c: number): Float64Array {
  const out = new Float64Array(h * w * c);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = src[(y * w + w - 1 - x) * c + k];
  return out;
}

/**
 * The warp p' = center + t + A (p - center), A = R * Shear * scale with R = [[cos, sin], [-sin, cos]] (a
 * counter-clockwise turn on screen, y down) and Shear = [[1, tan(shear)], [0, 1]]; each output pixel center is
 * mapped back through A's inverse (the 2x2 formula) and sampled bilinearly, taps outside reading `fill`.
 */
export function refAffine(
  src: ArrayLike<number>,
  h: number,
  w: number,
  c: number,
  p: { angle: number; tx: number; ty: number; scale: number; shear: number },
  fill: number,
): Float64Array {
  const t = (p.angle * Math.PI) / 180;
  const k = Math.tan((p.shear * Math.PI) / 180);
  // A = R [[1, k], [0, 1]] s
  const a = Math.cos(t) * p.scale;
  const b = (Math.cos(t) * k + Math.sin(t)) * p.scale;
  const cc = -Math.sin(t) * p.scale;
  const d = (-Math.sin(t) * k + Math.cos(t)) * p.scale;
  const det = a * d - b * cc;
  const [ia, ib, ic, id] = [d / det, -b / det, -cc / det, a / det];
  const cx = w / 2;
  const cy = h / 2;
  const out = new Float64Array(h * w * c);
  const at = (y: number, x: number, ch: number) =>
    y >= 0 && y < h && x >= 0 && x < w ? src[(y * w + x) * c + ch] : fill;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ux = x + 0.5 - cx - p.tx;
      const uy = y + 0.5 - cy - p.ty;
      const sx = cx + ia * ux + ib * uy - 0.5;
      const sy = cy + ic * ux + id * uy - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let ch = 0; ch < c; ch++) {
        out[(y * w + x) * c + ch] =
          at(y0, x0, ch) * (1 - fx) * (1 - fy) +
          at(y0, x0 + 1, ch) * fx * (1 - fy) +
          at(y0 + 1, x0, ch) * (1 - fx) * fy +
          at(y0 + 1, x0 + 1, ch) * fx * fy;
      }
    }
  }
  return out;
}
