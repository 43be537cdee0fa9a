// adam_update: one in-place Adam / AdamW step (PyTorch torch.optim.Adam and AdamW, amsgrad = false).
// Updates the parameter and both moment buffers together.
// Formula (t = the parameter's step count, 1 on its first step; scalars computed on the host in float64):
//          p = decay * p                     (decay = 1 - lr * wd for AdamW, 1 for Adam)
//          g = grad + wdCoupled * p          (wdCoupled = wd for Adam, 0 for AdamW)
//          m = beta1 * m + c1 * g              (c1 = 1 - beta1, c2 = 1 - beta2: from the host, since
//          v = beta2 * v + c2 * g * g           1 - beta2 in f32 loses 1e-5 relative to cancellation)
//          p = p - stepSize * m / (sqrt(v) / bc2Sqrt + eps)
//          with stepSize = lr / (1 - beta1^t) and bc2Sqrt = sqrt(1 - beta2^t).
// Layout: p (read_write), grad (read), m and v (read_write moment buffers); all n contiguous f32.
// Shapes: p, grad, m and v have n elements. Dispatch: ceil(n / WG) workgroups, linearized over x and y.
struct Params {
  n: u32,
  decay: f32,
  wdCoupled: f32,
  beta1: f32,
  beta2: f32,
  c1: f32,
  c2: f32,
  eps: f32,
  stepSize: f32,
  bc2Sqrt: f32,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) {
    return;
  }
  let w = u.decay * p[i];
  let g = grad[i] + u.wdCoupled * w;
  let m1 = u.beta1 * m[i] + u.c1 * g;
  let v1 = u.beta2 * v[i] + u.c2 * g * g;
  m[i] = m1;
  v[i] = v1;
  p[i] = w - u.stepSize * m1 / (sqrt(v1) / u.bc2Sqrt + u.eps);
}
