// depthwise_fwd: depthwise convolution, each input channel with its own M filters (channel multiplier M).
//   y[n,oh,ow,c*M+m] = bias[c*M+m] + sum_{kh,kw} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, c] * w[kh,kw,c,m]
// Layout: x NHWC, w [KH,KW,C,M] (tfjs's depthwise layout, the same memory as conv2d's [KH,KW,1,C*M] with
// groups = C), y NHWC. V is vec4<f32> when M == 1 and C % 4 == 0 (cvIn = cvOut = C / 4), else f32 (cvIn = C,
// cvOut = C*M). The input channel group of output group co is co / mult (mult = M for f32, 1 for vec4).
// Tiling: one invocation computes a TH x TW tile of outputs (rows along OH, columns along OW) of one channel
// group. The TILE region is `accumulate`, the whole window sum for the tile: by default (TH = TW = 1) loops over
// the KH x KW taps with uniforms, for any kernel; src/ops/depthwise_tile.ts generates it unrolled for a fixed
// kernel, stride and dilation, loading each input pixel and each filter tap the tile touches once (the register
// tile). Out-of-image taps load a clamped, valid address and select zero, so the unrolled code has no branches.
// Dispatch: ceil(N*tilesH*tilesW*cvOut / WG) workgroups, tilesH = ceil(OH / TH), tilesW = ceil(OW / TW),
// linearized over x and y; no barriers.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32, hasBias: u32,
  cvIn: u32, cvOut: u32, mult: u32, tilesH: u32,
  tilesW: u32, total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> wt: array<V>;
// Without a bias the plan binds w here; hasBias = 0 keeps it unread.
@group(0) @binding(3) var<storage, read> bias: array<V>;
@group(0) @binding(4) var<storage, read_write> y: array<V>;

override WG: u32 = 64;

/** The first pixel of input row ih of image n (nb = n * H), clamped into the image. */
fn rowAt(nb: u32, ih: i32) -> u32 {
  return (nb + u32(clamp(ih, 0, i32(p.h) - 1))) * p.w;
}

fn rowInside(ih: i32) -> bool {
  return ih >= 0 && ih < i32(p.h);
}

/** x at column iw of the input row starting at pixel `row`, channel group ci; zero outside the image. */
fn load(row: u32, rowOk: bool, iw: i32, ci: u32) -> V {
  let inside = rowOk && iw >= 0 && iw < i32(p.w);
  return select(V(0.0), x[(row + u32(clamp(iw, 0, i32(p.w) - 1))) * p.cvIn + ci], inside);
}

// @region TILE
const TH = 1u;
const TW = 1u;

/** Adds the window sums of the tile whose first window starts at (ih0, iw0) of image nb / H into acc. */
fn accumulate(acc: ptr<function, array<V, TH * TW>>, nb: u32, ih0: i32, iw0: i32, ci: u32, co: u32) {
  for (var kh = 0u; kh < p.kh; kh++) {
    let ih = ih0 + i32(kh * p.dh);
    let row = rowAt(nb, ih);
    for (var kw = 0u; kw < p.kw; kw++) {
      let xv = load(row, rowInside(ih), iw0 + i32(kw * p.dw), ci);
      (*acc)[0] += xv * wt[(kh * p.kw + kw) * p.cvOut + co];
    }
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
  let oh0 = (t2 % p.tilesH) * TH;
  let n = t2 / p.tilesH;
  var acc: array<V, TH * TW>;
  let ih0 = i32(oh0 * p.sh) - i32(p.padTop);
  let iw0 = i32(ow0 * p.sw) - i32(p.padLeft);
  accumulate(&acc, n * p.h, ih0, iw0, co / p.mult, co);
  var b = V(0.0);
  if (p.hasBias != 0u) {
    b = bias[co];
  }
  for (var r = 0u; r < TH; r++) {
    for (var c = 0u; c < TW; c++) {
      if (oh0 + r < p.oh && ow0 + c < p.ow) {
        y[((n * p.oh + oh0 + r) * p.ow + ow0 + c) * p.cvOut + co] = acc[r * TW + c] + b;
      }
    }
  }
}
