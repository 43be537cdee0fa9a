// conv2d_fwd_cout4_regs8: forward convolution as an implicit GEMM, scalar x and vec4 w along Cout, for any Cin: 16 rows x 8 channels.
//   out[n,oh,ow,co] = epilogue(sum_{kh,kw,ci} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * w[kh,kw,ci,co])
// The EPILOGUE and BINDINGS regions are the identity and `out` alone unless ops/epilogue.ts generates them: the
// conv's bias, then what the scheduler fused into the store (batch-norm apply, residual add, ReLU).
// Layout: x NHWC as f32 (any Cin, e.g. 3 for RGB); w HWIO and out NHWC as vec4 along Cout (Cout % 4 == 0).
// Tiling: GEMM rows m = (n*OH + oh)*OW + ow, columns co. One invocation computes 16 consecutive rows (four quads)
// x 2 vec4 column groups (8 channels) = 128 outputs in eight mat4x4f accumulators (column i = row i of the quad):
// conv2d_fwd_cout4_regs's 128 outputs with 8 channels instead of 16, for Cout = 8 (the ResNet's stem, Cin 1),
// where the 16-channel tile computes as many clamped duplicates as outputs. Per input channel 16 scalar x loads
// and 2 vec4 w loads feed 128 multiply-adds: half the w loads per multiply-add of an 8-row tile, which
// SwiftShader (a vec4 load is a gather per component there) ran slower (docs/kernels.md). The tile is written
// out (no loops over it, no dynamically indexed private arrays); the window offsets and padding masks are
// computed once per tap as vec4. Rows past M repeat the last row, groups past Cout/4 the last group; neither is
// stored.
// Dispatch: ceil(ceil(M / 16) * nGroups / WG) workgroups, nGroups = ceil(Cout / 8), linearized over x and y.
// Uniforms, the quads' window geometry and the store: shaders/include/conv_fwd_quads.wgsl; x rows and outer
// products: shaders/include/conv_fwd_scalar_x.wgsl.

// @include conv_fwd_params

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

// @include conv_fwd_quads

// @include conv_fwd_scalar_x

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  if (gid >= ((p.m + 15u) / 16u) * p.nGroups) {
    return;
  }
  let cout4 = p.cout / 4u;
  let last = cout4 - 1u;
  let g = (gid % p.nGroups) * 2u;
  let m0 = (gid / p.nGroups) * 16u;
  let g0 = min(g, last);
  let g1 = min(g + 1u, last);
  let qa = quad(m0);
  let qb = quad(m0 + 4u);
  let qc = quad(m0 + 8u);
  let qd = quad(m0 + 12u);

  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var b0 = mat4x4f();
  var b1 = mat4x4f();
  var c0 = mat4x4f();
  var c1 = mat4x4f();
  var d0 = mat4x4f();
  var d1 = mat4x4f();
  for (var kh = 0u; kh < p.kh; kh++) {
    for (var kw = 0u; kw < p.kw; kw++) {
      let ta = taps(qa, i32(kh * p.dh), i32(kw * p.dw), p.cin);
      let tb = taps(qb, i32(kh * p.dh), i32(kw * p.dw), p.cin);
      let tc = taps(qc, i32(kh * p.dh), i32(kw * p.dw), p.cin);
      let td = taps(qd, i32(kh * p.dh), i32(kw * p.dw), p.cin);
      let wk = (kh * p.kw + kw) * p.cin;
      for (var c = 0u; c < p.cin; c++) {
        let xa = rows(ta, c);
        let xb = rows(tb, c);
        let xc = rows(tc, c);
        let xd = rows(td, c);
        let k = (wk + c) * cout4;
        let w0 = wt[k + g0];
        a0 += outer(w0, xa);
        b0 += outer(w0, xb);
        c0 += outer(w0, xc);
        d0 += outer(w0, xd);
        let w1 = wt[k + g1];
        a1 += outer(w1, xa);
        b1 += outer(w1, xb);
        c1 += outer(w1, xc);
        d1 += outer(w1, xd);
      }
    }
  }

  store(a0, m0, g);
  store(a1, m0, g + 1u);
  store(b0, m0 + 4u, g);
  store(b1, m0 + 4u, g + 1u);
  store(c0, m0 + 8u, g);
  store(c1, m0 + 8u, g + 1u);
  store(d0, m0 + 12u, g);
  store(d1, m0 + 12u, g + 1u);
}
