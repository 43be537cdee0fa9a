// ensemble_combine_backward_rows: per member row, S[m, n] = sum_c dy[n, c] * r[m, n, c] for ensembleCombine's backward,
//   r[m, n, c] = exp(z[m, n, c] - lse[m, n] - out[n, c] - shift) = p_m,c / q_c (mean-prob, shift 0)
//   or p_m,c / (votes_c + q_c) (vote, shift log(M + 1)): a ratio <= M, computed without dividing tiny numbers.
// Shapes: dy, out [N, K]; z [M, N, K]; lse, S [M, N]. Dispatch: ceil(M * N / WG) workgroups, linearized over x
// and y; one invocation per member row.
struct Params {
  m: u32,
  n: u32,
  k: u32,
  shift: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> out: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read_write> rowSums: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid;
  if (r >= p.m * p.n) {
    return;
  }
  let row = r % p.n;
  var s = 0.0;
  for (var c = 0u; c < p.k; c++) {
    s += dy[row * p.k + c] * exp(z[r * p.k + c] - lse[r] - out[row * p.k + c] - p.shift);
  }
  rowSums[r] = s;
}
