// batch_norm_update: in-place running averages from the batch statistics (updateRunning, include batch_norm_running:
// Keras's momentum convention, the biased variance times varianceScale), a dispatch of its own after the two-pass
// statistics; batch_norm_train_single runs the same update in its kernel.
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

// @include batch_norm_running

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c = (wid.x + wid.y * nwg.x) * WG + lid;
  if (c >= p.cv) {
    return;
  }
  updateRunning(c, mean[c], variance[c]);
}
