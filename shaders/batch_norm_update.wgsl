// batch_norm_update: in-place running averages, Keras's momentum convention:
//   runningMean = momentum * runningMean + (1 - momentum) * mean,
//   runningVar = momentum * runningVar + (1 - momentum) * variance * varianceScale
// (variance is the biased batch variance; varianceScale 1 keeps it, as Keras 3; rows / (rows - 1) makes it the
// unbiased one, as PyTorch).
// Layout: V is vec4<f32> when C % 4 == 0 (cv = C / 4), else f32. Shapes: all four [cv] V.
// Dispatch: ceil(cv / WG) workgroups; each running buffer is bound once, read_write.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  cv: u32,
  momentum: f32,
  varianceScale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> runningMean: array<V>;
@group(0) @binding(2) var<storage, read_write> runningVar: array<V>;
@group(0) @binding(3) var<storage, read> mean: array<V>;
@group(0) @binding(4) var<storage, read> variance: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c = (wid.x + wid.y * nwg.x) * WG + lid;
  if (c >= p.cv) {
    return;
  }
  runningMean[c] = runningMean[c] * p.momentum + mean[c] * (1.0 - p.momentum);
  runningVar[c] = runningVar[c] * p.momentum + variance[c] * p.varianceScale * (1.0 - p.momentum);
}
