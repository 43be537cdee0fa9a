// conv_fwd_quads (included by the conv2d_fwd_*_regs kernels, after conv_fwd_params): the window geometry of a quad
// of four GEMM rows and the store of a quad's 4x4 accumulator block through the kernel's epilogue. The including
// kernel declares x, wt, out and epilogue (module-scope declarations may come in any order in WGSL).
override WG: u32 = 64;

/** Where four rows' windows start: input row and column of tap (0, 0), and n*H. */
struct Quad {
  ih: vec4i,
  iw: vec4i,
  nh: vec4u,
}

fn quad(m0: u32) -> Quad {
  let m = min(vec4u(m0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.m - 1u));
  let ow = m % p.ow;
  let oh = (m / p.ow) % p.oh;
  return Quad(vec4i(oh * p.sh) - i32(p.padTop), vec4i(ow * p.sw) - i32(p.padLeft), (m / (p.ow * p.oh)) * p.h);
}

/** The x offsets of a quad's four rows at one tap (`stride` x elements per pixel), and which rows read inside. */
struct Taps {
  at: vec4u,
  ok: vec4<bool>,
}

fn taps(q: Quad, dih: i32, diw: i32, stride: u32) -> Taps {
  let ih = q.ih + dih;
  let iw = q.iw + diw;
  let ok = (ih >= vec4i(0)) & (ih < vec4i(i32(p.h))) & (iw >= vec4i(0)) & (iw < vec4i(i32(p.w)));
  let at = ((q.nh + vec4u(ih)) * p.w + vec4u(iw)) * stride;
  return Taps(select(vec4u(0u), at, ok), ok);
}

// outAt: where output element i (in the store's element type) goes: i itself unless ops/epilogue.ts generates the
// region for the concatStore pass, which stores the conv's channels as a slice of a wider NHWC tensor (a concat).
// @region OUT_AT
fn outAt(i: u32) -> u32 {
  return i;
}
// @end OUT_AT

/** Stores a quad's accumulators for output group co (rows past M are not stored). */
fn store(a: mat4x4f, m0: u32, co: u32) {
  let cout4 = p.cout / 4u;
  if (co >= cout4) {
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (m0 + i < p.m) {
      let o = (m0 + i) * cout4 + co;
      out[outAt(o)] = epilogue(a[i], o, co);
    }
  }
}
