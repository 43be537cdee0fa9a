// batch_norm_stats_combine: second pass of the batch statistics, merging chunk means and squared deviations in order
// (Chan et al.): mean[c] = batch mean, variance[c] = biased batch variance (sum of squared deviations / rows).
// Layout: part [groups, 2, cv] from batch_norm_stats; V is vec4<f32> when C % 4 == 0 (cv = C / 4), else f32.
// Shapes: mean, variance [cv] V. Dispatch: ceil(cv / WG) workgroups; one channel group per invocation.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  rows: u32,
  cv: u32,
  chunk: u32,
  groups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<V>;
@group(0) @binding(2) var<storage, read_write> mean: array<V>;
@group(0) @binding(3) var<storage, read_write> variance: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c = (wid.x + wid.y * nwg.x) * WG + lid;
  if (c >= p.cv) {
    return;
  }
  var na = 0.0;
  var ma = V(0.0);
  var m2 = V(0.0);
  for (var g = 0u; g < p.groups; g++) {
    let nb = f32(min(p.chunk, p.rows - g * p.chunk));
    let mb = part[(g * 2u) * p.cv + c];
    let n = na + nb;
    let d = mb - ma;
    ma += d * (nb / n);
    m2 += part[(g * 2u + 1u) * p.cv + c] + d * d * (na * nb / n);
    na = n;
  }
  mean[c] = ma;
  variance[c] = m2 * (1.0 / f32(p.rows));
}
