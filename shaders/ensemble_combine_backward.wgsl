// ensemble_combine_backward: the gradient of ensembleCombine with respect to the M predictions (votes held fixed).
//   mean-logit (mode 0): dz[m, n, j] = dy[n, j] / M
//   mean-prob, vote:     dz[m, n, j] = (dy[n, j] * r[m, n, j] - p[m, n, j] * S[m, n]) / M
// with p = exp(z - lse), r and S from ensemble_combine_backward_rows (same shift).
// Shapes: dy, out [N, K]; z, dz [M, N, K]; lse, S [M, N]. Dispatch: ceil(M * N * K / WG) workgroups, linearized
// over x and y; one dz element per invocation.
struct Params {
  m: u32,
  n: u32,
  k: u32,
  mode: u32,
  shift: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> out: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> rowSums: array<f32>;
@group(0) @binding(6) var<storage, read_write> dz: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.m * p.n * p.k) {
    return;
  }
  let r = i / p.k;
  let element = (r % p.n) * p.k + (i - r * p.k);
  let count = f32(p.m);
  if (p.mode == 0u) {
    dz[i] = dy[element] / count;
    return;
  }
  let a = z[i] - lse[r];
  let ratio = exp(a - out[element] - p.shift);
  dz[i] = (dy[element] * ratio - exp(a) * rowSums[r]) / count;
}
