// conv2d_fwd_scalar: forward convolution as an implicit GEMM with scalar loads, for any channel counts.
//   out[n,oh,ow,co] = epilogue(sum_{kh,kw,ci} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * w[kh,kw,ci,co])
// The EPILOGUE and BINDINGS regions are the identity and `out` alone unless ops/epilogue.ts generates them: the
// conv's bias, then what the scheduler fused into the store (batch-norm apply, residual add, ReLU).
// Layout: x NHWC, w HWIO, out NHWC as plain f32 (the fallback when Cin or Cout is not a multiple of 4).
// Tiling: GEMM rows m = (n*OH + oh)*OW + ow, columns co. One invocation computes TM consecutive rows x TN
// consecutive columns in registers, without workgroup memory.
// Dispatch: ceil(ceil(M / TM) * nGroups / WG) workgroups, nGroups = ceil(Cout / TN), linearized over x and y.
// @include conv_fwd_params

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
// @region BINDINGS
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// @end BINDINGS

// @region EPILOGUE
fn epilogue(acc: f32, i: u32, c: u32) -> f32 {
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
override TN: u32 = 4;
const MAX_TM = 8u;
const MAX_TN = 8u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  let mGroups = (p.m + TM - 1u) / TM;
  if (gid >= mGroups * p.nGroups) {
    return;
  }
  let cg = gid % p.nGroups;
  let m0 = (gid / p.nGroups) * TM;

  // Where each row's window starts; rows past M repeat the last row and are not written.
  var ih0: array<i32, MAX_TM>;
  var iw0: array<i32, MAX_TM>;
  var nh: array<u32, MAX_TM>;
  for (var i = 0u; i < TM; i++) {
    let m = min(m0 + i, p.m - 1u);
    let ow = m % p.ow;
    let oh = (m / p.ow) % p.oh;
    nh[i] = (m / (p.ow * p.oh)) * p.h;
    ih0[i] = i32(oh * p.sh) - i32(p.padTop);
    iw0[i] = i32(ow * p.sw) - i32(p.padLeft);
  }
  var co: array<u32, MAX_TN>;
  for (var j = 0u; j < TN; j++) {
    co[j] = min(cg * TN + j, p.cout - 1u);
  }

  var acc: array<f32, 64>;
  for (var kh = 0u; kh < p.kh; kh++) {
    for (var kw = 0u; kw < p.kw; kw++) {
      var xo: array<u32, MAX_TM>;
      var ok: array<bool, MAX_TM>;
      for (var i = 0u; i < TM; i++) {
        let ih = ih0[i] + i32(kh * p.dh);
        let iw = iw0[i] + i32(kw * p.dw);
        ok[i] = ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w);
        xo[i] = select(0u, ((nh[i] + u32(ih)) * p.w + u32(iw)) * p.cin, ok[i]);
      }
      let wk = (kh * p.kw + kw) * p.cin;
      for (var c = 0u; c < p.cin; c++) {
        var wr: array<f32, MAX_TN>;
        for (var j = 0u; j < TN; j++) {
          wr[j] = wt[(wk + c) * p.cout + co[j]];
        }
        for (var i = 0u; i < TM; i++) {
          let xv = select(0.0, x[xo[i] + c], ok[i]);
          for (var j = 0u; j < TN; j++) {
            acc[i * MAX_TN + j] += xv * wr[j];
          }
        }
      }
    }
  }

  for (var j = 0u; j < TN; j++) {
    let c = cg * TN + j;
    if (c >= p.cout) {
      break;
    }
    for (var i = 0u; i < TM; i++) {
      if (m0 + i < p.m) {
        let o = (m0 + i) * p.cout + c;
        out[outAt(o)] = epilogue(acc[i * MAX_TN + j], o, c);
      }
    }
  }
}
