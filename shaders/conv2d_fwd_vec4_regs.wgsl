// conv2d_fwd_vec4_regs: forward convolution as an implicit GEMM with a long, hand-unrolled register tile (CPU adapters).
//   out[n,oh,ow,co] = epilogue(sum_{kh,kw,ci} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * w[kh,kw,ci,co])
// The EPILOGUE and BINDINGS regions are the identity and `out` alone unless ops/epilogue.ts generates them: the
// conv's bias, then what the scheduler fused into the store (batch-norm apply, residual add, ReLU).
// Layout: x NHWC, w HWIO, out NHWC, all as vec4 along the channel axis (Cin % 4 == 0, Cout % 4 == 0).
// Tiling: GEMM rows m = (n*OH + oh)*OW + ow, columns co. One invocation computes 8 consecutive rows (two quads)
// x 4 vec4 column groups (16 channels) = 128 outputs in eight mat4x4f accumulators (column i = row i of the quad).
// Why this shape: CPU adapters run invocations as SIMD lanes and pay for every storage load per lane (llvmpipe
// loops over the lanes of each load; SwiftShader likewise), so the cost is the loads per multiply-add: 8 x loads
// and 16 w loads feed 512 multiply-adds per 4 input channels. The tile is written out (no loops over it, no
// dynamically indexed private arrays, which SwiftShader spills to per-lane memory), the window offsets and
// padding masks are computed once per tap as vec4 (one lane per row of a quad), and the K loop only loads and
// multiplies. Rows past M repeat the last row, groups past Cout/4 the last group; neither is stored.
// Dispatch: ceil(ceil(M / 8) * nGroups / WG) workgroups, nGroups = ceil(Cout / 16), linearized over x and y.
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32,
  m: u32, nGroups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
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

/** The x offsets (in vec4) of a quad's four rows at one tap, and which rows read inside the image. */
struct Taps {
  at: vec4u,
  ok: vec4<bool>,
}

fn taps(q: Quad, dih: i32, diw: i32) -> Taps {
  let ih = q.ih + dih;
  let iw = q.iw + diw;
  let ok = (ih >= vec4i(0)) & (ih < vec4i(i32(p.h))) & (iw >= vec4i(0)) & (iw < vec4i(i32(p.w)));
  let at = ((q.nh + vec4u(ih)) * p.w + vec4u(iw)) * (p.cin / 4u);
  return Taps(select(vec4u(0u), at, ok), ok);
}

/** Four rows' inputs at channel group c, one row per column (zero where the window is in the padding). */
fn rows(t: Taps, c: u32) -> mat4x4f {
  let z = vec4f(0.0);
  return mat4x4f(select(z, x[t.at.x + c], t.ok.x), select(z, x[t.at.y + c], t.ok.y),
    select(z, x[t.at.z + c], t.ok.z), select(z, x[t.at.w + c], t.ok.w));
}

/** The 4x4 block of w at filter row k (4 input channels from k) and output group co4: column i = channel k + i. */
fn block(k: u32, co4: u32) -> mat4x4f {
  let cout4 = p.cout / 4u;
  let b = k * cout4 + co4;
  return mat4x4f(wt[b], wt[b + cout4], wt[b + 2u * cout4], wt[b + 3u * cout4]);
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
  let cin4 = p.cin / 4u;
  let last = p.cout / 4u - 1u;
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
      for (var c = 0u; c < cin4; c++) {
        let xa = rows(ta, c);
        let xb = rows(tb, c);
        let k = wk + 4u * c;
        let w0 = block(k, g0);
        a0 += w0 * xa;
        b0 += w0 * xb;
        let w1 = block(k, g1);
        a1 += w1 * xa;
        b1 += w1 * xb;
        let w2 = block(k, g2);
        a2 += w2 * xa;
        b2 += w2 * xb;
        let w3 = block(k, g3);
        a3 += w3 * xa;
        b3 += w3 * xb;
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
