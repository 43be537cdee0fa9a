// softmax_backward: dx[r, c] = p[r, c] * (dy[r, c] - sum_c' dy[r, c'] * p[r, c']), from the saved output p.
// Shapes: dy, p and dx [rows, K] row-major. Dispatch: ceil(rows / WG) workgroups, linearized over x and y;
// one invocation per row.
struct Params {
  rows: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid;
  if (r >= p.rows) {
    return;
  }
  let base = r * p.k;
  var dot = 0.0;
  for (var c = 0u; c < p.k; c++) {
    dot += dy[base + c] * probs[base + c];
  }
  for (var c = 0u; c < p.k; c++) {
    dx[base + c] = probs[base + c] * (dy[base + c] - dot);
  }
}
