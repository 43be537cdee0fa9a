// conv2d_fwd_1x1: 1x1 convolution (channel mixing, optionally strided) as a register-tiled GEMM, vec4 channels.
//   out[n,oh,ow,co] = epilogue(sum_ci x[n, oh*SH, ow*SW, ci] * w[0,0,ci,co])   (no padding)
// The EPILOGUE and BINDINGS regions are the identity and `out` alone unless ops/epilogue.ts generates them: the
// conv's bias, then what the scheduler fused into the store (batch-norm apply, residual add, ReLU).
// Layout: x NHWC, w [1,1,Cin,Cout], out NHWC, as vec4 along channels (Cin % 4 == 0, Cout % 4 == 0).
// Tiling: rows m = (n*OH + oh)*OW + ow; one invocation computes TM rows x TN vec4 columns in registers, with no
// window bounds checks (the input row of every output row exists).
// Dispatch: ceil(ceil(M / TM) * nGroups / WG) workgroups, nGroups = ceil(Cout / (4*TN)), linearized over x and y.
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, sh: u32,
  sw: u32, m: u32, nGroups: u32,
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

// outAt: where output element i (in the store's element type) goes: i itself unless ops/epilogue.ts generates the
// region for the concatStore pass, which stores the conv's channels as a slice of a wider NHWC tensor (a concat).
// @region OUT_AT
fn outAt(i: u32) -> u32 {
  return i;
}
// @end OUT_AT

override WG: u32 = 64;
override TM: u32 = 4;
override TN: u32 = 2;
const MAX_TM = 8u;
const MAX_TN = 4u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  let mGroups = (p.m + TM - 1u) / TM;
  if (gid >= mGroups * p.nGroups) {
    return;
  }
  let cin4 = p.cin / 4u;
  let cout4 = p.cout / 4u;
  let cg = gid % p.nGroups;
  let m0 = (gid / p.nGroups) * TM;

  // Input row of each output row; rows past M repeat the last row and are not written.
  var xo: array<u32, MAX_TM>;
  for (var i = 0u; i < TM; i++) {
    let m = min(m0 + i, p.m - 1u);
    let ow = m % p.ow;
    let oh = (m / p.ow) % p.oh;
    let n = m / (p.ow * p.oh);
    xo[i] = ((n * p.h + oh * p.sh) * p.w + ow * p.sw) * cin4;
  }
  var co4: array<u32, MAX_TN>;
  for (var j = 0u; j < TN; j++) {
    co4[j] = min(cg * TN + j, cout4 - 1u);
  }

  var acc: array<vec4f, 32>;
  for (var c = 0u; c < cin4; c++) {
    var wr: array<vec4f, 16>;
    for (var j = 0u; j < TN; j++) {
      let base = c * 4u * cout4 + co4[j];
      wr[j * 4u] = wt[base];
      wr[j * 4u + 1u] = wt[base + cout4];
      wr[j * 4u + 2u] = wt[base + 2u * cout4];
      wr[j * 4u + 3u] = wt[base + 3u * cout4];
    }
    for (var i = 0u; i < TM; i++) {
      let xv = x[xo[i] + c];
      for (var j = 0u; j < TN; j++) {
        acc[i * MAX_TN + j] += xv.x * wr[j * 4u] + xv.y * wr[j * 4u + 1u] + xv.z * wr[j * 4u + 2u]
          + xv.w * wr[j * 4u + 3u];
      }
    }
  }

  for (var j = 0u; j < TN; j++) {
    let co = cg * TN + j;
    if (co >= cout4) {
      break;
    }
    for (var i = 0u; i < TM; i++) {
      if (m0 + i < p.m) {
        let o = (m0 + i) * cout4 + co;
        out[outAt(o)] = epilogue(acc[i * MAX_TN + j], o, co);
      }
    }
  }
}
