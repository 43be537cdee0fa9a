// batch_norm_grad_input: dx of training-mode batch norm (batch statistics depend on x), with M = rows, xhat = (x - mean) * invStd:
//   dx = gamma * invStd * (dy - (dbeta + xhat * dgamma) / M),   invStd = 1 / sqrt(variance + eps)
// Layout: dy, x, dx [rows, C]; V is vec4<f32> when C % 4 == 0 (cv = C / 4), else f32.
// Shapes: dy, x, dx rows*cv V; gamma, mean, variance, dgamma, dbeta [cv] V. Dispatch: ceil(rows*cv / WG) workgroups,
// linearized. The uniforms, the first five bindings and load_dy (the DY region, which ops/elementwise/relu_mask.ts
// makes read dy through relu's mask when fused) are include batch_norm_grad_bindings (batch_norm_grad_single's too).
// @include batch_norm_grad_bindings

@group(0) @binding(6) var<storage, read> dgamma: array<V>;
@group(0) @binding(7) var<storage, read> dbeta: array<V>;
@group(0) @binding(8) var<storage, read_write> dx: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.rows * p.cv) {
    return;
  }
  let c = i % p.cv;
  let invStd = inverseSqrt(variance[c] + p.eps);
  let xhat = (x[i] - mean[c]) * invStd;
  dx[i] = gamma[c] * invStd * (load_dy(i) - (dbeta[c] + xhat * dgamma[c]) * p.invRows);
}
