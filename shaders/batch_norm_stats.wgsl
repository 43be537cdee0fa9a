// batch_norm_stats: first pass of the per-channel batch mean and variance (Welford within row chunks).
//   part[g, 0, c] = mean of x[r, c], part[g, 1, c] = sum of (x[r, c] - that mean)^2, r in [g*chunk, min(rows, (g+1)*chunk))
// Layout: x [rows, C] (rows = N*H*W of NHWC); V is vec4<f32> when C % 4 == 0 (cv = C / 4), else f32 (cv = C).
// Shapes: x rows*cv V, part [groups, 2, cv] V. Dispatch: ceil(groups * cv / WG) workgroups, linearized over x and y.
// Chunks keep the reduction parallel and deterministic; batch_norm_stats_combine merges them (Chan et al.).
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
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read_write> part: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.groups * p.cv) {
    return;
  }
  let c = i % p.cv;
  let g = i / p.cv;
  let start = g * p.chunk;
  let stop = min(p.rows, start + p.chunk);
  var mean = V(0.0);
  var m2 = V(0.0);
  var n = 0.0;
  for (var r = start; r < stop; r++) {
    n += 1.0;
    let v = x[r * p.cv + c];
    let d = v - mean;
    mean += d * (1.0 / n);
    m2 += d * (v - mean);
  }
  part[(g * 2u) * p.cv + c] = mean;
  part[(g * 2u + 1u) * p.cv + c] = m2;
}
