// batch_norm_grad_params: first pass of dbeta[c] = sum dy[r, c] and dgamma[c] = sum dy[r, c] * (x[r, c] - mean[c]) * invStd[c]:
//   part[g, 0, c] = sum dy, part[g, 1, c] = sum dy * (x - mean[c]) over rows [g*chunk, min(rows, (g+1)*chunk)).
// Layout: dy, x [rows, C]; V is vec4<f32> when C % 4 == 0 (cv = C / 4), else f32. Shapes: mean [cv] V, part [groups, 2, cv] V.
// Dispatch: ceil(groups * cv / WG) workgroups, linearized over x and y. batch_norm_grad_params_combine finishes.
// dy is read through load_dy (the DY region): ops/elementwise/relu_mask.ts masks it by relu's output when fused.
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
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> x: array<V>;
@group(0) @binding(3) var<storage, read> mean: array<V>;
@group(0) @binding(4) var<storage, read_write> part: array<V>;

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
  if (i >= p.groups * p.cv) {
    return;
  }
  let c = i % p.cv;
  let g = i / p.cv;
  let m = mean[c];
  let stop = min(p.rows, (g + 1u) * p.chunk);
  var sdy = V(0.0);
  var sdyx = V(0.0);
  for (var r = g * p.chunk; r < stop; r++) {
    let d = load_dy(r * p.cv + c);
    sdy += d;
    sdyx += d * (x[r * p.cv + c] - m);
  }
  part[(g * 2u) * p.cv + c] = sdy;
  part[(g * 2u + 1u) * p.cv + c] = sdyx;
}
