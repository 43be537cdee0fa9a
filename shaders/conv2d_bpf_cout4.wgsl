// conv2d_bpf_cout4: backprop to the filter (dw) as a split-reduction GEMM, vec4 along Cout only (any Cin).
//   part[s,kh,kw,ci,co] = sum_{k in chunk s} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * dy[n,oh,ow,co],
//   k = (n*OH + oh)*OW + ow; a second pass (reduce, sum) adds the parts over s (none when there is one chunk).
//   Chunks and part counts stay <= 65,535: llvmpipe ends any loop after that many iterations.
// Layout: x NHWC as f32; dy NHWC and part [S,KH,KW,Cin,Cout] as vec4 along Cout (Cout % 4 == 0).
// Tiling: one invocation owns one (tap, ci) row x TN vec4 groups of output channels, in registers.
// Dispatch: ceil(S * KH*KW*Cin * nGroups / WG) workgroups, nGroups = ceil(Cout / (4*TN)).
// dy is read through load_dy (the DY region): ops/elementwise/relu_mask.ts masks it by relu's output when fused.
// @include conv_bpf_params
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> part: array<vec4f>;

// @region DY
fn load_dy(j: u32) -> vec4f {
  return dy[j];
}
// @end DY

override WG: u32 = 64;
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
  let offH = i32((tap / p.kw) * p.dh) - i32(p.padTop);
  let offW = i32((tap % p.kw) * p.dw) - i32(p.padLeft);
  var co: array<u32, MAX_TN>;
  for (var j = 0u; j < TN; j++) {
    co[j] = min(cg * TN + j, cout4 - 1u);
  }

  var acc: array<vec4f, MAX_TN>;
  let k0 = s * p.chunk;
  let k1 = min(p.k, k0 + p.chunk);
  var ow = k0 % p.ow;
  var oh = (k0 / p.ow) % p.oh;
  var n = k0 / (p.ow * p.oh);
  for (var k = k0; k < k1; k++) {
    let ih = i32(oh * p.sh) + offH;
    let iw = i32(ow * p.sw) + offW;
    if (ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w)) {
      let xv = x[((n * p.h + u32(ih)) * p.w + u32(iw)) * p.cin + ci];
      for (var j = 0u; j < TN; j++) {
        acc[j] += xv * load_dy(k * cout4 + co[j]);
      }
    }
    ow++;
    if (ow == p.ow) {
      ow = 0u;
      oh++;
      if (oh == p.oh) {
        oh = 0u;
        n++;
      }
    }
  }

  for (var j = 0u; j < TN; j++) {
    let c = cg * TN + j;
    if (c >= cout4) {
      break;
    }
    part[(s * p.rows + row) * cout4 + c] = acc[j];
  }
}
