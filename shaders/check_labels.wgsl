// check_labels: flags[slot] = the smallest row r whose label is outside [0, K) and is not the ignore index, for
// labels the host does not know (computed on the device); softmaxCrossEntropy checks host labels when recorded.
// flags[slot] starts at 0xffffffff (all labels valid); the host reads it back after the flush.
// Shapes: labels [rows] i32; flags has one u32 per check slot of the flush.
// Dispatch: ceil(rows / WG) workgroups, linearized over x and y; one invocation per row.
struct Params {
  rows: u32,
  k: u32,
  // 1 when ignoreIndex is set, then rows with label == ignoreIndex are valid.
  hasIgnore: u32,
  ignoreIndex: i32,
  slot: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> flags: array<atomic<u32>>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid;
  if (r >= p.rows) {
    return;
  }
  let label = labels[r];
  let inRange = label >= 0 && u32(label) < p.k;
  let ignored = p.hasIgnore == 1u && label == p.ignoreIndex;
  if (!inRange && !ignored) {
    atomicMin(&flags[p.slot], r);
  }
}
