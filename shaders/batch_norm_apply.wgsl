// batch_norm_apply: y = (x - mean[c]) * gamma[c] / sqrt(variance[c] + eps) + beta[c] (training: batch statistics,
// inference: running averages).
// Layout: x, y [rows, C] (NHWC flattened); V is vec4<f32> when C % 4 == 0 (cv = C / 4), else f32 (cv = C).
// Shapes: x, y total V; gamma, beta, mean, variance [cv] V. Dispatch: ceil(total / WG) workgroups, linearized over x and y.
// The EPILOGUE and BINDINGS regions are the identity and `y` alone unless ops/epilogue.ts generates them for what
// the scheduler fused into the store: a residual add (of y's shape), then ReLU.
// @include batch_norm_apply_bindings

struct Params {
  total: u32,
  cv: u32,
  eps: f32,
}

@group(0) @binding(4) var<storage, read> mean: array<V>;
@group(0) @binding(5) var<storage, read> variance: array<V>;
// @region BINDINGS
@group(0) @binding(6) var<storage, read_write> y: array<V>;
// @end BINDINGS

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let c = i % p.cv;
  y[i] = epilogue((x[i] - mean[c]) * (gamma[c] * inverseSqrt(variance[c] + p.eps)) + beta[c], i, c);
}
