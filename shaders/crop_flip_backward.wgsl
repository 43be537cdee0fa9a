// crop_flip_backward: adds one view's crop gradient to the image gradient (the gather adjoint of crop_flip).
//   dx[n, y, x, c] = (accumulate ? dx[n, y, x, c] : 0) + dy[v*N + n, y - rowStart, (x - colStart) * colStep, c]
// where that crop pixel exists (0 otherwise); rowStart, colStart, colStep as in crop_flip.wgsl (colStep is +-1,
// so each image pixel is read by at most one pixel of a view). One dispatch per view, in order, the first
// without accumulate: no scatter, deterministic sums.
// Layout: dy [V*N, OH, OW, C] and dx [N, H, W, C] NHWC.
// Dispatch: ceil(N * H * W * C / WG) workgroups, linearized over x and y; one dx element per invocation.
struct Params {
  n: u32,
  h: u32,
  w: u32,
  c: u32,
  oh: u32,
  ow: u32,
  view: u32,
  rowStart: i32,
  colStart: i32,
  colStep: i32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n * p.h * p.w * p.c) {
    return;
  }
  let k = i % p.c;
  let xx = (i / p.c) % p.w;
  let y = (i / (p.c * p.w)) % p.h;
  let b = i / (p.c * p.w * p.h);
  let oy = i32(y) - p.rowStart;
  let ox = (i32(xx) - p.colStart) * p.colStep;
  var g = 0.0;
  if (oy >= 0 && oy < i32(p.oh) && ox >= 0 && ox < i32(p.ow)) {
    g = dy[(((p.view * p.n + b) * p.oh + u32(oy)) * p.ow + u32(ox)) * p.c + k];
  }
  if (p.accumulate != 0u) {
    g += dx[i];
  }
  dx[i] = g;
}
