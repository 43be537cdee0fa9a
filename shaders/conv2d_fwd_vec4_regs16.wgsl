// conv2d_fwd_vec4_regs16: forward convolution as an implicit GEMM with a 16-row register tile (CPU adapters, llvmpipe above all).
//   out[n,oh,ow,co] = epilogue(sum_{kh,kw,ci} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * w[kh,kw,ci,co])
// The EPILOGUE and BINDINGS regions are the identity and `out` alone unless ops/epilogue.ts generates them: the
// conv's bias, then what the scheduler fused into the store (batch-norm apply, residual add, ReLU).
// Layout: x NHWC, w HWIO, out NHWC, all as vec4 along the channel axis (Cin % 4 == 0, Cout % 4 == 0).
// Tiling: GEMM rows m = (n*OH + oh)*OW + ow, columns co. One invocation computes 16 consecutive rows (four quads)
// x 4 vec4 column groups (16 channels) = 256 outputs in sixteen mat4x4f accumulators (aQG: quad Q, group G;
// column i = row i of the quad): conv2d_fwd_vec4_regs with twice its rows.
// Why this shape: llvmpipe emits every storage load as a loop over its 8 SIMD lanes (a bounds test and a scalar
// load per component), so loads, not multiply-adds, bound the 8-row tile; here 16 x loads and 16 w loads feed
// 1,024 multiply-adds per 4 input channels (8 rows: 24 loads for 512). Larger tiles (16 x 32, 24 x 16, 32 x 32)
// measured no faster on llvmpipe (docs/kernels.md). The tile is written out (no loops over it, no dynamically
// indexed private arrays, which SwiftShader spills to per-lane memory); the window offsets and padding masks are
// computed once per tap as vec4. Rows past M repeat the last row, groups past Cout/4 the last group; neither is
// stored.
// Dispatch: ceil(ceil(M / 16) * nGroups / WG) workgroups, nGroups = ceil(Cout / 16), linearized over x and y.
// Uniforms, the quads' window geometry and the store: shaders/include/conv_fwd_quads.wgsl.

// @include conv_fwd_params

// @include conv_fwd_vec4_io

// @include conv_fwd_quads

// @include conv_fwd_vec4_blocks

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  if (gid >= ((p.m + 15u) / 16u) * p.nGroups) {
    return;
  }
  let cin4 = p.cin / 4u;
  let last = p.cout / 4u - 1u;
  let g = (gid % p.nGroups) * 4u;
  let m0 = (gid / p.nGroups) * 16u;
  let g0 = min(g, last);
  let g1 = min(g + 1u, last);
  let g2 = min(g + 2u, last);
  let g3 = min(g + 3u, last);
  let q0 = quad(m0);
  let q1 = quad(m0 + 4u);
  let q2 = quad(m0 + 8u);
  let q3 = quad(m0 + 12u);

  var a00 = mat4x4f();
  var a01 = mat4x4f();
  var a02 = mat4x4f();
  var a03 = mat4x4f();
  var a10 = mat4x4f();
  var a11 = mat4x4f();
  var a12 = mat4x4f();
  var a13 = mat4x4f();
  var a20 = mat4x4f();
  var a21 = mat4x4f();
  var a22 = mat4x4f();
  var a23 = mat4x4f();
  var a30 = mat4x4f();
  var a31 = mat4x4f();
  var a32 = mat4x4f();
  var a33 = mat4x4f();
  for (var kh = 0u; kh < p.kh; kh++) {
    for (var kw = 0u; kw < p.kw; kw++) {
      let t0 = taps(q0, i32(kh * p.dh), i32(kw * p.dw), cin4);
      let t1 = taps(q1, i32(kh * p.dh), i32(kw * p.dw), cin4);
      let t2 = taps(q2, i32(kh * p.dh), i32(kw * p.dw), cin4);
      let t3 = taps(q3, i32(kh * p.dh), i32(kw * p.dw), cin4);
      let wk = (kh * p.kw + kw) * p.cin;
      for (var c = 0u; c < cin4; c++) {
        let x0 = rows(t0, c);
        let x1 = rows(t1, c);
        let x2 = rows(t2, c);
        let x3 = rows(t3, c);
        let k = wk + 4u * c;
        let w0 = block(k, g0);
        a00 += w0 * x0;
        a10 += w0 * x1;
        a20 += w0 * x2;
        a30 += w0 * x3;
        let w1 = block(k, g1);
        a01 += w1 * x0;
        a11 += w1 * x1;
        a21 += w1 * x2;
        a31 += w1 * x3;
        let w2 = block(k, g2);
        a02 += w2 * x0;
        a12 += w2 * x1;
        a22 += w2 * x2;
        a32 += w2 * x3;
        let w3 = block(k, g3);
        a03 += w3 * x0;
        a13 += w3 * x1;
        a23 += w3 * x2;
        a33 += w3 * x3;
      }
    }
  }

  store(a00, m0, g);
  store(a01, m0, g + 1u);
  store(a02, m0, g + 2u);
  store(a03, m0, g + 3u);
  store(a10, m0 + 4u, g);
  store(a11, m0 + 4u, g + 1u);
  store(a12, m0 + 4u, g + 2u);
  store(a13, m0 + 4u, g + 3u);
  store(a20, m0 + 8u, g);
  store(a21, m0 + 8u, g + 1u);
  store(a22, m0 + 8u, g + 2u);
  store(a23, m0 + 8u, g + 3u);
  store(a30, m0 + 12u, g);
  store(a31, m0 + 12u, g + 1u);
  store(a32, m0 + 12u, g + 2u);
  store(a33, m0 + 12u, g + 3u);
}
