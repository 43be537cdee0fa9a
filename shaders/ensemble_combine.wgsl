// ensemble_combine: M predictions of each row combined into one score row, by mode:
//   0 mean-logit: out[n, j] = sum_m z[m, n, j] / M
//   1 mean-prob:  out[n, j] = log(q),  q = sum_m exp(z[m, n, j] - lse[m, n]) / M   (log-mean-exp, no underflow)
//   2 vote:       out[n, j] = log((votes + q) / (M + 1)),  votes = #m with argmax[m, n] == j
// lse and argmax come from ensemble_row_stats. Shapes: z [M, N, K]; lse, argmax [M, N]; out [N, K].
// Dispatch: ceil(N * K / WG) workgroups, linearized over x and y; one output element per invocation.
struct Params {
  m: u32,
  n: u32,
  k: u32,
  mode: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> argmax: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n * p.k) {
    return;
  }
  let row = i / p.k;
  let j = i - row * p.k;
  let count = f32(p.m);
  if (p.mode == 0u) {
    var s = 0.0;
    for (var m = 0u; m < p.m; m++) {
      s += z[m * p.n * p.k + i];
    }
    out[i] = s / count;
    return;
  }
  var mx = -3.4e38;
  for (var m = 0u; m < p.m; m++) {
    mx = max(mx, z[m * p.n * p.k + i] - lse[m * p.n + row]);
  }
  var s = 0.0;
  var votes = 0u;
  for (var m = 0u; m < p.m; m++) {
    s += exp(z[m * p.n * p.k + i] - lse[m * p.n + row] - mx);
    if (u32(argmax[m * p.n + row]) == j) {
      votes++;
    }
  }
  let logq = mx + log(s / count);
  if (p.mode == 1u) {
    out[i] = logq;
  } else if (votes == 0u) {
    out[i] = logq - log(count + 1.0);
  } else {
    out[i] = log(f32(votes) + exp(logq)) - log(count + 1.0);
  }
}
