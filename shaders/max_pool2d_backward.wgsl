// max_pool2d_backward: dx[n, h, w, c] = sum of dy[n, oy, ox, c] over the output windows that contain (h, w)
// and whose saved argmax is h*W + w. A gather: one invocation per dx element, deterministic, no atomics.
// Windows containing row h: oy in [ceil((h + padTop - kh + 1) / sh), floor((h + padTop) / sh)] within [0, OH).
// Layout: NHWC; V is vec4<f32> (VI vec4<i32>) when C % 4 == 0 (cv = C / 4), else f32 (i32) with cv = C.
// Shapes: dy [N, OH, OW, cv] V; argmax [N, OH, OW, cv] VI; dx [N, H, W, cv] V.
// Dispatch: ceil(N*H*W*cv / WG) workgroups, linearized over x and y.
// @region VEC
alias V = vec4<f32>;
// @end VEC
// @region IVEC
alias VI = vec4<i32>;
// @end IVEC

struct Params {
  h: u32,
  w: u32,
  cv: u32,
  oh: u32,
  ow: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  padTop: u32,
  padLeft: u32,
  total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> argmax: array<VI>;
@group(0) @binding(3) var<storage, read_write> dx: array<V>;

override WG: u32 = 64;

/** First and one-past-last output index whose window (start o*s - pad, length k) covers input index i. */
fn windows(i: u32, pad: u32, k: u32, s: u32, outLen: u32) -> vec2u {
  let ip = i + pad;
  let lo = select(0u, (ip - k) / s + 1u, ip >= k);
  let hi = min(ip / s + 1u, outLen);
  return vec2u(lo, max(lo, hi));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let c = i % p.cv;
  let t = i / p.cv;
  let xx = t % p.w;
  let t2 = t / p.w;
  let yy = t2 % p.h;
  let n = t2 / p.h;
  let here = VI(i32(yy * p.w + xx));
  let ry = windows(yy, p.padTop, p.kh, p.sh, p.oh);
  let rx = windows(xx, p.padLeft, p.kw, p.sw, p.ow);
  var acc = V(0.0);
  for (var oy = ry.x; oy < ry.y; oy++) {
    let row = (n * p.oh + oy) * p.ow;
    for (var ox = rx.x; ox < rx.y; ox++) {
      let j = (row + ox) * p.cv + c;
      acc += select(V(0.0), dy[j], argmax[j] == here);
    }
  }
  dx[i] = acc;
}
