// depthwise_fwd: depthwise convolution, each input channel with its own M filters (channel multiplier M).
//   y[n,oh,ow,c*M+m] = bias[c*M+m] + sum_{kh,kw} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, c] * w[kh,kw,c,m]
// Layout: x NHWC, w [KH,KW,C,M] (tfjs's depthwise layout, the same memory as conv2d's [KH,KW,1,C*M] with
// groups = C), y NHWC. V is vec4<f32> when M == 1 and C % 4 == 0 (cvIn = cvOut = C / 4), else f32 (cvIn = C,
// cvOut = C*M). The input channel group of output group co is co / mult (mult = M for f32, 1 for vec4).
// Tiling: one invocation computes TW consecutive outputs along OW of one channel group. The TILE region is
// `accumulateRow` for one kernel row: by default (TW = 1) a loop over the KW taps with uniforms, for any
// kernel; src/ops/depthwise_tile.ts generates it unrolled for a fixed KW, SW, DW and TW, loading each input
// column and each filter tap of the row once for all TW outputs (the register tile over W).
// Out-of-image taps load a clamped, valid address and select zero, so the unrolled code has no branches.
// Dispatch: ceil(N*OH*tilesW*cvOut / WG) workgroups, tilesW = ceil(OW / TW), linearized over x and y; no barriers.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32, hasBias: u32,
  cvIn: u32, cvOut: u32, mult: u32, tilesW: u32,
  total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> wt: array<V>;
// Without a bias the plan binds w here; hasBias = 0 keeps it unread.
@group(0) @binding(3) var<storage, read> bias: array<V>;
@group(0) @binding(4) var<storage, read_write> y: array<V>;

override WG: u32 = 64;

/** x at input column iw of the input row starting at pixel `row`, channel group ci; zero outside the image. */
fn load(row: u32, iw: i32, ci: u32) -> V {
  let inside = iw >= 0 && iw < i32(p.w);
  return select(V(0.0), x[(row + u32(clamp(iw, 0, i32(p.w) - 1))) * p.cvIn + ci], inside);
}

// @region TILE
const TW = 1u;

/** Adds kernel row `wk` (its first tap's index) of the window starting at column iw0 into the TW outputs. */
fn accumulateRow(acc: ptr<function, array<V, TW>>, row: u32, iw0: i32, ci: u32, wk: u32, co: u32) {
  for (var kw = 0u; kw < p.kw; kw++) {
    (*acc)[0] += load(row, iw0 + i32(kw * p.dw), ci) * wt[(wk + kw) * p.cvOut + co];
  }
}
// @end TILE

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let co = i % p.cvOut;
  let t = i / p.cvOut;
  let ow0 = (t % p.tilesW) * TW;
  let t2 = t / p.tilesW;
  let oh = t2 % p.oh;
  let n = t2 / p.oh;
  let ci = co / p.mult;
  let ih0 = i32(oh * p.sh) - i32(p.padTop);
  let iw0 = i32(ow0 * p.sw) - i32(p.padLeft);
  var acc: array<V, TW>;
  for (var kh = 0u; kh < p.kh; kh++) {
    let ih = ih0 + i32(kh * p.dh);
    if (ih < 0 || ih >= i32(p.h)) {
      continue;
    }
    accumulateRow(&acc, (n * p.h + u32(ih)) * p.w, iw0, ci, kh * p.kw, co);
  }
  var b = V(0.0);
  if (p.hasBias != 0u) {
    b = bias[co];
  }
  let out = ((n * p.oh + oh) * p.ow + ow0) * p.cvOut + co;
  for (var k = 0u; k < TW; k++) {
    if (ow0 + k < p.ow) {
      y[out + k * p.cvOut] = acc[k] + b;
    }
  }
}
