// ensemble_row_stats: per prediction row, its log-sum-exp and first argmax (for ensembleCombine's softmax and votes).
//   lse[r] = max_r + log(sum_j exp(z[r, j] - max_r)),  argmax[r] = first j with z[r, j] == max_r
// Shapes: z [rows, K] row-major (rows = M * N: member m's row n is row m * N + n); lse [rows] f32, argmax [rows] i32.
// Dispatch: ceil(rows / WG) workgroups, linearized over x and y; one invocation per row (rows are class counts long).
struct Params {
  rows: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<i32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid;
  if (r >= p.rows) {
    return;
  }
  let base = r * p.k;
  var best = 0u;
  for (var j = 1u; j < p.k; j++) {
    if (z[base + j] > z[base + best]) {
      best = j;
    }
  }
  let mx = z[base + best];
  var s = 0.0;
  for (var j = 0u; j < p.k; j++) {
    s += exp(z[base + j] - mx);
  }
  lse[r] = mx + log(s);
  argmax[r] = i32(best);
}
