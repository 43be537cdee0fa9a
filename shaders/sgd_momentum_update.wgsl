// sgd_momentum_update: one in-place SGD step with momentum, optionally Nesterov (PyTorch torch.optim.SGD,
// dampening = 0). Updates the parameter and its momentum buffer together.
// Formula: g = grad + wd * p;
//          v = g on the parameter's first step (first = 1), else v = momentum * v + g;
//          update = g + momentum * v if nesterov = 1, else v;
//          p = p - lr * update.
// Layout: p (read_write), grad (read), v (read_write momentum buffer); all n contiguous f32.
// Shapes: p, grad and v have n elements. Dispatch: ceil(n / WG) workgroups, linearized over x and y.
struct Params {
  n: u32,
  lr: f32,
  wd: f32,
  momentum: f32,
  nesterov: u32,
  first: u32,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;

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
  var buf = g;
  if (u.first == 0u) {
    buf = u.momentum * v[i] + g;
  }
  v[i] = buf;
  var update = buf;
  if (u.nesterov == 1u) {
    update = g + u.momentum * buf;
  }
  p[i] = w - u.lr * update;
}
