// sgd_update: one in-place SGD step without momentum (PyTorch torch.optim.SGD, momentum = 0).
// Formula: g = grad + wd * p;  p = p - lr * g.
// Layout: p (read_write, updated in place), grad (read); both n contiguous f32.
// Shapes: p and grad have n elements. Dispatch: ceil(n / WG) workgroups, linearized over x and y.
struct Params {
  n: u32,
  lr: f32,
  wd: f32,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) {
    return;
  }
  let w = p[i];
  let g = grad[i] + u.wd * w;
  p[i] = w - u.lr * g;
}
