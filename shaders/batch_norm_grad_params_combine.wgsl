// batch_norm_grad_params_combine: sums the chunk partials in order: dbeta[c] = sum_g part[g, 0, c],
// dgamma[c] = invStd[c] * sum_g part[g, 1, c], invStd = 1 / sqrt(variance + eps).
// Layout: V is vec4<f32> when C % 4 == 0 (cv = C / 4), else f32. Shapes: part [groups, 2, cv] V; variance, dgamma, dbeta [cv] V.
// Dispatch: ceil(cv / WG) workgroups; one channel group per invocation.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  cv: u32,
  groups: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<V>;
@group(0) @binding(2) var<storage, read> variance: array<V>;
@group(0) @binding(3) var<storage, read_write> dgamma: array<V>;
@group(0) @binding(4) var<storage, read_write> dbeta: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c = (wid.x + wid.y * nwg.x) * WG + lid;
  if (c >= p.cv) {
    return;
  }
  var sdy = V(0.0);
  var sdyx = V(0.0);
  for (var g = 0u; g < p.groups; g++) {
    sdy += part[(g * 2u) * p.cv + c];
    sdyx += part[(g * 2u + 1u) * p.cv + c];
  }
  dbeta[c] = sdy;
  dgamma[c] = sdyx * inverseSqrt(variance[c] + p.eps);
}
