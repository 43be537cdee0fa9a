// conv2d_bpf_vec4_regs: backprop to the filter (dw), split reduction, with a hand-unrolled register tile (CPU adapters).
//   part[s,kh,kw,ci,co] = sum_{k in chunk s} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * dy[n,oh,ow,co],
//   k = (n*OH + oh)*OW + ow; a second pass (reduce, sum) adds the parts over s (none when there is one chunk).
//   Chunks and part counts stay <= 65,535: llvmpipe ends any loop after that many iterations.
// Layout: x NHWC, dy NHWC, part [S,KH,KW,Cin,Cout], as vec4 along channels (Cin % 4 == 0, Cout % 4 == 0).
// Tiling: one invocation owns 8 input channels (two x vec4) of one tap x 8 output channels (two dy vec4): four
// mat4x4f accumulators (column q = input channel q of the x vec4), one outer product each per step of k.
// Why: CPU adapters run invocations as SIMD lanes, and SwiftShader keeps dynamically indexed private arrays (the
// TN-wide tile of conv2d_bpf_vec4) in per-lane memory, so every multiply-add went through memory; here the tile
// is written out. Groups past Cin/4 or Cout/4 repeat the last group and are never stored.
// Dispatch: ceil(S * KH*KW*ceil(Cin/8) * nGroups / WG) workgroups, nGroups = ceil(Cout / 8); lanes next to each
// other share a tap and x, so their bounds tests agree.
// @include conv_bpf_params
alias XV = vec4f;
alias DV = vec4f;
// @include conv_bpf_io
// @include conv_bpf_walk

/** d ⊗ xv: column q is d * xv[q] (input channel q, four output channels). */
fn outer(d: vec4f, xv: vec4f) -> mat4x4f {
  return mat4x4f(d * xv.x, d * xv.y, d * xv.z, d * xv.w);
}

/** Stores accumulator `a` (input group ci4, output group co4) when both groups exist. */
fn store(a: mat4x4f, base: u32, ci4: u32, co4: u32, ok: bool) {
  if (!ok) {
    return;
  }
  let cout4 = p.cout / 4u;
  for (var q = 0u; q < 4u; q++) {
    part[(base + ci4 * 4u + q) * cout4 + co4] = a[q];
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  if (gid >= p.total) {
    return;
  }
  let cin4 = p.cin / 4u;
  let cout4 = p.cout / 4u;
  let cinGroups = (cin4 + 1u) / 2u;
  let cg = gid % p.nGroups;
  let row = (gid / p.nGroups) % p.rows;
  let s = gid / (p.nGroups * p.rows);
  let xa = (row % cinGroups) * 2u;
  let xb = min(xa + 1u, cin4 - 1u);
  let tap = row / cinGroups;
  let da = cg * 2u;
  let db = min(da + 1u, cout4 - 1u);
  let off = tapOffset(tap);

  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var b0 = mat4x4f();
  var b1 = mat4x4f();
  let k0 = s * p.chunk;
  let k1 = min(p.k, k0 + p.chunk);
  var q = pixel(k0);
  for (var k = k0; k < k1; k++) {
    let src = source(q, off);
    if (src != OUTSIDE) {
      let xi = src * cin4;
      let xv0 = x[xi + xa];
      let xv1 = x[xi + xb];
      let d0 = load_dy(k * cout4 + da);
      let d1 = load_dy(k * cout4 + db);
      a0 += outer(d0, xv0);
      a1 += outer(d1, xv0);
      b0 += outer(d0, xv1);
      b1 += outer(d1, xv1);
    }
    q = next(q);
  }

  let base = (s * p.kh * p.kw + tap) * p.cin;
  let twoIn = xa + 1u < cin4;
  let twoOut = da + 1u < cout4;
  store(a0, base, xa, da, true);
  store(a1, base, xa, db, twoOut);
  store(b0, base, xb, da, twoIn);
  store(b1, base, xb, db, twoIn && twoOut);
}
