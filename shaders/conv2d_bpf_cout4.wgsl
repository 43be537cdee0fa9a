// conv2d_bpf_cout4: backprop to the filter (dw) as a split-reduction GEMM, vec4 along Cout only (any Cin).
//   part[s,kh,kw,ci,co] = sum_{k in chunk s} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * dy[n,oh,ow,co],
//   k = (n*OH + oh)*OW + ow; a second pass (reduce, sum) adds the parts over s (none when there is one chunk).
//   Chunks and part counts stay <= 65,535: llvmpipe ends any loop after that many iterations.
// Layout: x NHWC as f32; dy NHWC and part [S,KH,KW,Cin,Cout] as vec4 along Cout (Cout % 4 == 0).
// Tiling: one invocation owns one (tap, ci) row x TN vec4 groups of output channels, in registers.
// Dispatch: ceil(S * KH*KW*Cin * nGroups / WG) workgroups, nGroups = ceil(Cout / (4*TN)).
// @include conv_bpf_params
alias XV = f32;
alias DV = vec4f;
// @include conv_bpf_io
// @include conv_bpf_walk
override TN: u32 = 4;
const MAX_TN = 8u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  if (gid >= p.total) {
    return;
  }
  let cout4 = p.cout / 4u;
  let cg = gid % p.nGroups;
  let row = (gid / p.nGroups) % p.rows;
  let s = gid / (p.nGroups * p.rows);
  let ci = row % p.cin;
  let tap = row / p.cin;
  let off = tapOffset(tap);
  var co: array<u32, MAX_TN>;
  for (var j = 0u; j < TN; j++) {
    co[j] = min(cg * TN + j, cout4 - 1u);
  }

  var acc: array<vec4f, MAX_TN>;
  let k0 = s * p.chunk;
  let k1 = min(p.k, k0 + p.chunk);
  var q = pixel(k0);
  for (var k = k0; k < k1; k++) {
    let src = source(q, off);
    if (src != OUTSIDE) {
      let xv = x[src * p.cin + ci];
      for (var j = 0u; j < TN; j++) {
        acc[j] += xv * load_dy(k * cout4 + co[j]);
      }
    }
    q = next(q);
  }

  for (var j = 0u; j < TN; j++) {
    let c = cg * TN + j;
    if (c >= cout4) {
      break;
    }
    part[(s * p.rows + row) * cout4 + c] = acc[j];
  }
}
