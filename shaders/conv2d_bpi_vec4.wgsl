// conv2d_bpi_vec4: backprop to the input (dx) by gathering, vec4 along channels, strides split into phases.
//   dx[n,ih,iw,ci] = sum_{kh,kw,co : oh = (ih + padTop - kh*DH) / SH and ow = (iw + padLeft - kw*DW) / SW exact and in range}
//                    dy[n,oh,ow,co] * w[kh,kw,ci,co]
// Layout: dy NHWC, w HWIO, dx NHWC, as vec4 along channels (Cin % 4 == 0, Cout % 4 == 0).
// Phases: an invocation owns TM pixels of one row ih that share iw mod SW (iw = pw + (b*TM + i)*SW), so they
// need the same taps: kh runs from the first exact one in steps of stepH = SH / gcd(SH, DH) (likewise kw),
// and no invocation visits a tap that a stride skips. Pixel i reads ow = ow0 + i. TN vec4 groups of Cin each.
// Dispatch: ceil(N*H*SW*ceil(ceil(W/SW)/TM)*nGroups / WG) workgroups, nGroups = ceil(Cin / (4*TN)).
// dy is read through load_dy (the DY region): ops/elementwise/relu_mask.ts masks it by relu's output when fused;
// dx is stored through store_dx (the STORE region): ops/store_sum.ts adds a fan-in gradient sum (and a mask) to it.
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32, stepH: u32,
  stepW: u32, blocks: u32, nGroups: u32, total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> wt: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4f>;

// @region DY
fn load_dy(j: u32) -> vec4f {
  return dy[j];
}
// @end DY

// @region STORE
fn store_dx(j: u32, acc: vec4f) {
  dx[j] = acc;
}
// @end STORE

override WG: u32 = 64;
override TM: u32 = 4;
override TN: u32 = 1;
const MAX_TM = 8u;
const MAX_TN = 4u;

// The first k in [0, step) with (a - k*d) divisible by s; none exists when gcd(s, d) does not divide a.
fn firstTap(a: i32, d: u32, s: u32, step: u32) -> u32 {
  for (var k = 0u; k < step; k++) {
    if ((a - i32(k * d)) % i32(s) == 0) {
      return k;
    }
  }
  return 0xffffffffu;
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
  let cg = gid % p.nGroups;
  var r = gid / p.nGroups;
  let b = r % p.blocks;
  r /= p.blocks;
  let pw = r % p.sw;
  r /= p.sw;
  let ih = r % p.h;
  let n = r / p.h;
  let iwFirst = pw + b * TM * p.sw;
  if (iwFirst >= p.w) {
    return;
  }
  var ci4: array<u32, MAX_TN>;
  for (var j = 0u; j < TN; j++) {
    ci4[j] = min(cg * TN + j, cin4 - 1u);
  }

  let ah = i32(ih + p.padTop);
  let aw = i32(iwFirst + p.padLeft);
  var acc: array<vec4f, 32>;
  for (var kh = firstTap(ah, p.dh, p.sh, p.stepH); kh < p.kh; kh += p.stepH) {
    let th = ah - i32(kh * p.dh);
    if (th < 0) {
      break;
    }
    let oh = u32(th) / p.sh;
    if (oh >= p.oh) {
      continue;
    }
    for (var kw = firstTap(aw, p.dw, p.sw, p.stepW); kw < p.kw; kw += p.stepW) {
      let ow0 = (aw - i32(kw * p.dw)) / i32(p.sw);
      var dyo: array<u32, MAX_TM>;
      var ok: array<bool, MAX_TM>;
      for (var i = 0u; i < TM; i++) {
        let ow = ow0 + i32(i);
        ok[i] = ow >= 0 && ow < i32(p.ow);
        dyo[i] = select(0u, ((n * p.oh + oh) * p.ow + u32(ow)) * cout4, ok[i]);
      }
      let wk = (kh * p.kw + kw) * p.cin;
      for (var c = 0u; c < cout4; c++) {
        var wr: array<vec4f, 16>;
        for (var j = 0u; j < TN; j++) {
          let base = (wk + ci4[j] * 4u) * cout4 + c;
          wr[j * 4u] = wt[base];
          wr[j * 4u + 1u] = wt[base + cout4];
          wr[j * 4u + 2u] = wt[base + 2u * cout4];
          wr[j * 4u + 3u] = wt[base + 3u * cout4];
        }
        for (var i = 0u; i < TM; i++) {
          let d = select(vec4f(0.0), load_dy(dyo[i] + c), ok[i]);
          for (var j = 0u; j < TN; j++) {
            acc[i * MAX_TN + j] += vec4f(dot(d, wr[j * 4u]), dot(d, wr[j * 4u + 1u]), dot(d, wr[j * 4u + 2u]),
              dot(d, wr[j * 4u + 3u]));
          }
        }
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let iw = iwFirst + i * p.sw;
    if (iw >= p.w) {
      break;
    }
    for (var j = 0u; j < TN; j++) {
      let c = cg * TN + j;
      if (c < cin4) {
        store_dx(((n * p.h + ih) * p.w + iw) * cin4 + c, acc[i * MAX_TN + j]);
      }
    }
  }
}
