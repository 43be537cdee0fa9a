// softmax_cross_entropy_backward: dx[r, c] = (probs[r, c] * h_r - onehot[r, c]) * dy[0] * invCount[0], where
// onehot[r, c] = (c == label_r), h_r = 1 for a counted row (label in [0, K) and not the ignore index) else 0, and
// invCount = 1 / (number of counted rows) as the forward computed it (0 when none). This is the exact gradient
// of the forward's mean loss, so an ignored row gets zero gradient.
// Shapes: dy [] (the loss gradient), probs and dx [N, K], labels [N] int32, invCount [].
// Dispatch: ceil(N * K / WG) workgroups, linearized over x and y; one invocation per element (gather).
struct Params {
  n: u32,
  k: u32,
  // 1 when ignoreIndex is set: rows with label == ignoreIndex are not counted.
  hasIgnore: u32,
  ignoreIndex: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> probs: array<f32>;
@group(0) @binding(3) var<storage, read> labels: array<i32>;
@group(0) @binding(4) var<storage, read> invCount: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  let label = labels[i / p.k];
  let counted = label >= 0 && u32(label) < p.k && !(p.hasIgnore == 1u && label == p.ignoreIndex);
  let hot = select(0.0, 1.0, counted && u32(label) == i % p.k);
  dx[i] = (select(0.0, probs[i], counted) - hot) * dy[0] * invCount[0];
}
