// conv2d_bpf_vec4: backprop to the filter (dw) as a GEMM whose reduction over N*OH*OW is split in chunks.
//   part[s,kh,kw,ci,co] = sum_{k in chunk s} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * dy[n,oh,ow,co],
//   k = (n*OH + oh)*OW + ow; a second pass (reduce, sum) adds the parts over s (none when there is one chunk).
//   Chunks and part counts stay <= 65,535: llvmpipe ends any loop after that many iterations.
// Layout: x NHWC, dy NHWC, part [S,KH,KW,Cin,Cout], as vec4 along channels (Cin % 4 == 0, Cout % 4 == 0).
// Tiling: one invocation owns 4 input channels (one x vec4) of one tap x TN vec4 groups of Cout: a 4 x 4*TN
// outer product per step of k, in registers, without workgroup memory.
// Dispatch: ceil(S * KH*KW*Cin/4 * nGroups / WG) workgroups, nGroups = ceil(Cout / (4*TN)).
// @include conv_bpf_params
alias XV = vec4f;
alias DV = vec4f;
// @include conv_bpf_io
// @include conv_bpf_walk
override TN: u32 = 2;
const MAX_TN = 4u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  if (gid >= p.total) {
    return;
  }
  let cin4 = p.cin / 4u;
  let cout4 = p.cout / 4u;
  let cg = gid % p.nGroups;
  let row = (gid / p.nGroups) % p.rows;
  let s = gid / (p.nGroups * p.rows);
  let c4 = row % cin4;
  let tap = row / cin4;
  let off = tapOffset(tap);
  var co4: array<u32, MAX_TN>;
  for (var j = 0u; j < TN; j++) {
    co4[j] = min(cg * TN + j, cout4 - 1u);
  }

  var acc: array<vec4f, 16>;
  let k0 = s * p.chunk;
  let k1 = min(p.k, k0 + p.chunk);
  var q = pixel(k0);
  for (var k = k0; k < k1; k++) {
    let src = source(q, off);
    if (src != OUTSIDE) {
      let xv = x[src * cin4 + c4];
      for (var j = 0u; j < TN; j++) {
        let d = load_dy(k * cout4 + co4[j]);
        acc[j * 4u] += xv.x * d;
        acc[j * 4u + 1u] += xv.y * d;
        acc[j * 4u + 2u] += xv.z * d;
        acc[j * 4u + 3u] += xv.w * d;
      }
    }
    q = next(q);
  }

  let base = s * p.rows * 4u + tap * p.cin + c4 * 4u;
  for (var j = 0u; j < TN; j++) {
    let co = cg * TN + j;
    if (co >= cout4) {
      break;
    }
    for (var q = 0u; q < 4u; q++) {
      part[(base + q) * cout4 + co] = acc[j * 4u + q];
    }
  }
}
