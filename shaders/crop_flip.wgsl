// crop_flip: one view (crop of the zero-padded image, mirrored left-right first if asked) of every image.
//   out[v*N + n, oy, ox, c] = x[n, rowStart + oy, colStart + colStep * ox, c], or 0 outside the image
// rowStart = top - pad; unmirrored colStart = left - pad, colStep = 1; mirrored colStart = W + pad - 1 - left,
// colStep = -1 ((top, left) are coordinates in the padded, mirrored image, as torchvision's ten_crop).
// Layout: x [N, H, W, C] and out [V*N, OH, OW, C] NHWC; this dispatch writes the block of view v.
// Dispatch: ceil(N * OH * OW * C / WG) workgroups, linearized over x and y; one element per invocation.
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
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let block = p.n * p.oh * p.ow * p.c;
  if (i >= block) {
    return;
  }
  let k = i % p.c;
  let ox = (i / p.c) % p.ow;
  let oy = (i / (p.c * p.ow)) % p.oh;
  let b = i / (p.c * p.ow * p.oh);
  let y = p.rowStart + i32(oy);
  let xx = p.colStart + p.colStep * i32(ox);
  var v = 0.0;
  if (y >= 0 && y < i32(p.h) && xx >= 0 && xx < i32(p.w)) {
    v = x[((b * p.h + u32(y)) * p.w + u32(xx)) * p.c + k];
  }
  out[p.view * block + i] = v;
}
