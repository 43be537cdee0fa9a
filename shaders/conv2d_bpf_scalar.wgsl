// conv2d_bpf_scalar: backprop to the filter (dw) as a split-reduction GEMM with scalar loads, any channel counts.
//   part[s,kh,kw,ci,co] = sum_{k in chunk s} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * dy[n,oh,ow,co],
//   k = (n*OH + oh)*OW + ow; a second pass (reduce, sum) adds the parts over s (none when there is one chunk).
//   Chunks and part counts stay <= 65,535: llvmpipe ends any loop after that many iterations.
// Layout: x NHWC, dy NHWC, part [S,KH,KW,Cin,Cout] as plain f32 (the fallback when Cin or Cout % 4 != 0).
// Tiling: one invocation owns one (tap, ci) row x TN consecutive output channels, in registers.
// Dispatch: ceil(S * KH*KW*Cin * nGroups / WG) workgroups, nGroups = ceil(Cout / TN).
// @include conv_bpf_params
alias XV = f32;
alias DV = f32;
// @include conv_bpf_io
// @include conv_bpf_walk
override TN: u32 = 4;
const MAX_TN = 16u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  if (gid >= p.total) {
    return;
  }
  let cg = gid % p.nGroups;
  let row = (gid / p.nGroups) % p.rows;
  let s = gid / (p.nGroups * p.rows);
  let ci = row % p.cin;
  let tap = row / p.cin;
  let off = tapOffset(tap);
  var co: array<u32, MAX_TN>;
  for (var j = 0u; j < TN; j++) {
    co[j] = min(cg * TN + j, p.cout - 1u);
  }

  var acc: array<f32, MAX_TN>;
  let k0 = s * p.chunk;
  let k1 = min(p.k, k0 + p.chunk);
  var q = pixel(k0);
  for (var k = k0; k < k1; k++) {
    let src = source(q, off);
    if (src != OUTSIDE) {
      let xv = x[src * p.cin + ci];
      for (var j = 0u; j < TN; j++) {
        acc[j] += xv * load_dy(k * p.cout + co[j]);
      }
    }
    q = next(q);
  }

  for (var j = 0u; j < TN; j++) {
    let c = cg * TN + j;
    if (c >= p.cout) {
      break;
    }
    part[(s * p.rows + row) * p.cout + c] = acc[j];
  }
}
