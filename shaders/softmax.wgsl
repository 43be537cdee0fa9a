// softmax: p[r, c] = exp(x[r, c] - max_r) / s_r, s_r = sum_c exp(x[r, c] - max_r), over the last axis.
// Subtracting the row maximum keeps every exp in (0, 1], so large logits cannot overflow.
// The ROW_END region runs once per row after the probabilities, with mx = max_r and s = s_r: empty by default;
// softmaxCrossEntropy substitutes the per-row loss log(s_r) + (max_r - x[r, label_r]) (with its bindings and
// PARAMS fields). The difference is taken first: with huge tied logits (1e30, 1e30) log(s_r) + max_r would round
// to max_r and lose log(s_r).
// Shapes: x and probs [rows, K] row-major. Dispatch: ceil(rows / WG) workgroups, linearized over x and y;
// one invocation per row (rows are short: class counts).
struct Params {
  rows: u32,
  k: u32,
  // @region PARAMS
  // @end PARAMS
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// @region BINDINGS
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
// @end BINDINGS

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
  // @region ROW_END
  // @end ROW_END
}
