// conv_bpf_walk (included by the register-tiled conv2d_bpf_* kernels and depthwise_bpf, which declare the uniforms
// `p`): the walk of one chunk of the dw reduction over output pixels k = (n*OH + oh)*OW + ow, advanced without
// divisions, and the input pixel each step reads at one filter tap.

/** What `source` returns for a tap that reads the padding. */
const OUTSIDE = 0xffffffffu;

/** An output pixel: image n, row oh, column ow. */
struct Pixel {
  n: u32,
  oh: u32,
  ow: u32,
}

/** The output pixel of reduction step k. */
fn pixel(k: u32) -> Pixel {
  return Pixel(k / (p.ow * p.oh), (k / p.ow) % p.oh, k % p.ow);
}

/** The output pixel after q (step k + 1). */
fn next(q: Pixel) -> Pixel {
  let rowEnd = q.ow + 1u == p.ow;
  let imageEnd = rowEnd && q.oh + 1u == p.oh;
  return Pixel(select(q.n, q.n + 1u, imageEnd), select(select(q.oh, q.oh + 1u, rowEnd), 0u, imageEnd),
    select(q.ow + 1u, 0u, rowEnd));
}

/** Where filter tap `tap` (kh*KW + kw) reads relative to an output pixel's window origin: (rows, columns). */
fn tapOffset(tap: u32) -> vec2i {
  return vec2i(i32((tap / p.kw) * p.dh) - i32(p.padTop), i32((tap % p.kw) * p.dw) - i32(p.padLeft));
}

/** The input pixel (n*H + ih)*W + iw that output pixel q reads at tap offset `off`, or OUTSIDE in the padding. */
fn source(q: Pixel, off: vec2i) -> u32 {
  let ih = i32(q.oh * p.sh) + off.x;
  let iw = i32(q.ow * p.sw) + off.y;
  let inside = ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w);
  return select(OUTSIDE, (q.n * p.h + u32(ih)) * p.w + u32(iw), inside);
}
