// max_pool2d: y[n, oy, ox, c] = max over in-bounds taps of x[n, oy*sh - padTop + ky, ox*sw - padLeft + kx, c]
// (padding never wins), and argmax = the winner's spatial index y*W + x; ties keep the first tap in row-major
// window order, as TensorFlow does. A NaN tap wins and stays (the first NaN), as in PyTorch, so NaN is never
// turned into a number. The backward pass gathers through argmax. The ARGMAX_* regions bind, track and store
// argmax; src/ops/pool.ts empties all four when nothing reads it (inference), leaving a kernel that writes y alone.
// Layout: NHWC; V is vec4<f32> (VI vec4<i32>) when C % 4 == 0 (cv = C / 4), else f32 (i32) with cv = C.
// Shapes: x [N, H, W, cv] V; y [N, OH, OW, cv] V; argmax [N, OH, OW, cv] VI.
// Dispatch: ceil(N*OH*OW*cv / WG) workgroups, linearized over x and y; one output V per invocation, no barriers.
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
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read_write> y: array<V>;
// @region ARGMAX_BINDING
@group(0) @binding(3) var<storage, read_write> argmax: array<VI>;
// @end ARGMAX_BINDING

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let c = i % p.cv;
  let t = i / p.cv;
  let ox = t % p.ow;
  let t2 = t / p.ow;
  let oy = t2 % p.oh;
  let n = t2 / p.oh;
  // Window bounds clipped to the image: 'same' padding, and explicit padding smaller than the window (checked on
  // the host, with PyTorch's ceil-mode rule), guarantee at least one tap inside.
  let y0 = i32(oy * p.sh) - i32(p.padTop);
  let x0 = i32(ox * p.sw) - i32(p.padLeft);
  let ys = u32(max(y0, 0));
  let ye = u32(min(y0 + i32(p.kh), i32(p.h)));
  let xs = u32(max(x0, 0));
  let xe = u32(min(x0 + i32(p.kw), i32(p.w)));
  let img = n * p.h;
  var best = x[((img + ys) * p.w + xs) * p.cv + c];
  // @region ARGMAX_INIT
  var arg = VI(i32(ys * p.w + xs));
  // @end ARGMAX_INIT
  for (var yy = ys; yy < ye; yy++) {
    let row = (img + yy) * p.w;
    for (var xx = xs; xx < xe; xx++) {
      let v = x[(row + xx) * p.cv + c];
      // NaN by its bits: WGSL lets comparisons assume finite values. `|`, `&`, `!` act per lane.
      let v_nan = (bitcast<VI>(v) & VI(0x7fffffff)) > VI(0x7f800000);
      let best_nan = (bitcast<VI>(best) & VI(0x7fffffff)) > VI(0x7f800000);
      let better = ((v > best) | v_nan) & !best_nan;
      best = select(best, v, better);
      // @region ARGMAX_TRACK
      arg = select(arg, VI(i32(yy * p.w + xx)), better);
      // @end ARGMAX_TRACK
    }
  }
  y[i] = best;
  // @region ARGMAX_STORE
  argmax[i] = arg;
  // @end ARGMAX_STORE
}
