// softmax_cross_entropy: per row, the softmax probabilities and the cross-entropy with an integer label:
//   probs[r, c] = exp(x[r, c] - max_r) / s_r,  s_r = sum_c exp(x[r, c] - max_r)
//   rowLoss[r]  = log(s_r) + max_r - x[r, label_r]  (log-sum-exp form: finite for any finite logits)
// A label outside [0, K) stands for an all-zero one-hot row: its loss is 0 (labels live on the GPU, so
// they cannot be checked when the op is recorded). reduce_sum then averages rowLoss over the batch.
// Shapes: x and probs [N, K], labels [N] int32, rowLoss [N]. Dispatch: ceil(N / WG) workgroups,
// linearized over x and y; one invocation per row.
struct Params {
  rows: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid;
  if (r >= p.rows) {
    return;
  }
  let base = r * p.k;
  var mx = x[base];
  for (var c = 1u; c < p.k; c++) {
    mx = max(mx, x[base + c]);
  }
  var s = 0.0;
  for (var c = 0u; c < p.k; c++) {
    s += exp(x[base + c] - mx);
  }
  let inv = 1.0 / s;
  for (var c = 0u; c < p.k; c++) {
    probs[base + c] = exp(x[base + c] - mx) * inv;
  }
  let label = labels[r];
  var loss = 0.0;
  if (label >= 0 && u32(label) < p.k) {
    loss = log(s) + mx - x[base + u32(label)];
  }
  rowLoss[r] = loss;
}
