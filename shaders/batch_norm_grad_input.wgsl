// batch_norm_grad_input: dx of training-mode batch norm (batch statistics depend on x), with M = rows, xhat = (x - mean) * invStd:
//   dx = gamma * invStd * (dy - (dbeta + xhat * dgamma) / M),   invStd = 1 / sqrt(variance + eps)
// Layout: dy, x, dx [rows, C]; V is vec4<f32> when C % 4 == 0 (cv = C / 4), else f32.
// Shapes: dy, x, dx total V; gamma, mean, variance, dgamma, dbeta [cv] V. Dispatch: ceil(total / WG) workgroups, linearized.
// dy is read through load_dy (the DY region): ops/elementwise/relu_mask.ts masks it by relu's output when fused.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  total: u32,
  cv: u32,
  eps: f32,
  invRows: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> x: array<V>;
@group(0) @binding(3) var<storage, read> gamma: array<V>;
@group(0) @binding(4) var<storage, read> mean: array<V>;
@group(0) @binding(5) var<storage, read> variance: array<V>;
@group(0) @binding(6) var<storage, read> dgamma: array<V>;
@group(0) @binding(7) var<storage, read> dbeta: array<V>;
@group(0) @binding(8) var<storage, read_write> dx: array<V>;

// @region DY
fn load_dy(j: u32) -> V {
  return dy[j];
}
// @end DY

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let c = i % p.cv;
  let invStd = inverseSqrt(variance[c] + p.eps);
  let xhat = (x[i] - mean[c]) * invStd;
  dx[i] = gamma[c] * invStd * (load_dy(i) - (dbeta[c] + xhat * dgamma[c]) * p.invRows);
}
