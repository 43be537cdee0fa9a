// batch_norm_grad_input_inference: dx of inference-mode batch norm (fixed running statistics):
//   dx = dy * gamma[c] / sqrt(runningVar[c] + eps)
// Layout: dy, dx [rows, C]; V is vec4<f32> when C % 4 == 0 (cv = C / 4), else f32.
// Shapes: dy, dx total V; gamma, variance [cv] V. Dispatch: ceil(total / WG) workgroups, linearized over x and y.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  total: u32,
  cv: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> gamma: array<V>;
@group(0) @binding(3) var<storage, read> variance: array<V>;
@group(0) @binding(4) var<storage, read_write> dx: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let c = i % p.cv;
  dx[i] = dy[i] * (gamma[c] * inverseSqrt(variance[c] + p.eps));
}
