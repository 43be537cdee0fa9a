// conv2d_fwd_cout4_regs: forward convolution as an implicit GEMM, scalar x and vec4 w along Cout, for any Cin (the stem).
//   out[n,oh,ow,co] = epilogue(sum_{kh,kw,ci} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * w[kh,kw,ci,co])
// The EPILOGUE and BINDINGS regions are the identity and `out` alone unless ops/epilogue.ts generates them: the
// conv's bias, then what the scheduler fused into the store (batch-norm apply, residual add, ReLU).
// Layout: x NHWC as f32 (any Cin, e.g. 3 for RGB); w HWIO and out NHWC as vec4 along Cout (Cout % 4 == 0).
// Tiling: GEMM rows m = (n*OH + oh)*OW + ow, columns co. One invocation computes 8 consecutive rows (two quads)
// x 4 vec4 column groups (16 channels) = 128 outputs in eight mat4x4f accumulators (column i = row i of the quad).
// Why this shape: CPU adapters pay for every storage load per SIMD lane, so the cost is loads per multiply-add:
// per input channel 8 scalar x loads and 4 vec4 w loads feed 128 multiply-adds (the scalar-x kernel with a 4x4
// tile: 8 loads for 16). The tile is written out (no loops over it, no dynamically indexed private arrays); the
// window offsets and padding masks are computed once per tap as vec4. Rows past M repeat the last row, groups
// past Cout/4 the last group; neither is stored.
// Dispatch: ceil(ceil(M / 8) * nGroups / WG) workgroups, nGroups = ceil(Cout / 16), linearized over x and y.
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32,
  m: u32, nGroups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4f>;
// @region BINDINGS
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
// @end BINDINGS

// @region EPILOGUE
fn epilogue(acc: vec4f, i: u32, c: u32) -> vec4f {
  return acc;
}
// @end EPILOGUE

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

/** The x offsets of a quad's four rows at one tap, and which rows read inside the image. */
struct Taps {
  at: vec4u,
  ok: vec4<bool>,
}

fn taps(q: Quad, dih: i32, diw: i32) -> Taps {
  let ih = q.ih + dih;
  let iw = q.iw + diw;
  let ok = (ih >= vec4i(0)) & (ih < vec4i(i32(p.h))) & (iw >= vec4i(0)) & (iw < vec4i(i32(p.w)));
  let at = ((q.nh + vec4u(ih)) * p.w + vec4u(iw)) * p.cin;
  return Taps(select(vec4u(0u), at, ok), ok);
}

/** Four rows' input channel c (zero where the window is in the padding). */
fn rows(t: Taps, c: u32) -> vec4f {
  return select(vec4f(0.0), vec4f(x[t.at.x + c], x[t.at.y + c], x[t.at.z + c], x[t.at.w + c]), t.ok);
}

/** Four rows' contributions v * w to one output group: column i = row i's input times the filter row w. */
fn outer(w: vec4f, v: vec4f) -> mat4x4f {
  return mat4x4f(w * v.x, w * v.y, w * v.z, w * v.w);
}

/** Stores a quad's accumulators for output group co (rows past M are not stored). */
fn store(a: mat4x4f, m0: u32, co: u32) {
  let cout4 = p.cout / 4u;
  if (co >= cout4) {
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (m0 + i < p.m) {
      let o = (m0 + i) * cout4 + co;
      out[o] = epilogue(a[i], o, co);
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  if (gid >= ((p.m + 7u) / 8u) * p.nGroups) {
    return;
  }
  let cout4 = p.cout / 4u;
  let last = cout4 - 1u;
  let g = (gid % p.nGroups) * 4u;
  let m0 = (gid / p.nGroups) * 8u;
  let g0 = min(g, last);
  let g1 = min(g + 1u, last);
  let g2 = min(g + 2u, last);
  let g3 = min(g + 3u, last);
  let qa = quad(m0);
  let qb = quad(m0 + 4u);

  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  var b0 = mat4x4f();
  var b1 = mat4x4f();
  var b2 = mat4x4f();
  var b3 = mat4x4f();
  for (var kh = 0u; kh < p.kh; kh++) {
    for (var kw = 0u; kw < p.kw; kw++) {
      let ta = taps(qa, i32(kh * p.dh), i32(kw * p.dw));
      let tb = taps(qb, i32(kh * p.dh), i32(kw * p.dw));
      let wk = (kh * p.kw + kw) * p.cin;
      for (var c = 0u; c < p.cin; c++) {
        let xa = rows(ta, c);
        let xb = rows(tb, c);
        let k = (wk + c) * cout4;
        let w0 = wt[k + g0];
        a0 += outer(w0, xa);
        b0 += outer(w0, xb);
        let w1 = wt[k + g1];
        a1 += outer(w1, xa);
        b1 += outer(w1, xb);
        let w2 = wt[k + g2];
        a2 += outer(w2, xa);
        b2 += outer(w2, xb);
        let w3 = wt[k + g3];
        a3 += outer(w3, xa);
        b3 += outer(w3, xb);
      }
    }
  }

  store(a0, m0, g);
  store(a1, m0, g + 1u);
  store(a2, m0, g + 2u);
  store(a3, m0, g + 3u);
  store(b0, m0 + 4u, g);
  store(b1, m0 + 4u, g + 1u);
  store(b2, m0 + 4u, g + 2u);
  store(b3, m0 + 4u, g + 3u);
}
