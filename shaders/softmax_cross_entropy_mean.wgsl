// softmax_cross_entropy_mean: loss = (sum_r rowLoss[r]) / count and invCount = 1 / count, where count is the
// number of counted rows (label in [0, K) and not the ignore index). With no counted row the loss is NaN and
// invCount 0, as PyTorch gives (mean over nothing; zero gradient).
// Shapes: rowLoss [N] (0 for rows not counted), labels [N] int32 → loss [], invCount []. The loss is written as
// its bits (u32), since a NaN may not be produced by float arithmetic or constants in WGSL.
// Dispatch: one workgroup, one invocation: N row losses are few, and a fixed order keeps the sum deterministic.
struct Params {
  rows: u32,
  k: u32,
  // 1 when ignoreIndex is set: rows with label == ignoreIndex are not counted.
  hasIgnore: u32,
  ignoreIndex: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rowLoss: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<u32>;
@group(0) @binding(4) var<storage, read_write> invCount: array<f32>;

@compute @workgroup_size(1)
fn main() {
  var total = 0.0;
  var count = 0u;
  for (var r = 0u; r < p.rows; r++) {
    let label = labels[r];
    if (label >= 0 && u32(label) < p.k && !(p.hasIgnore == 1u && label == p.ignoreIndex)) {
      total += rowLoss[r];
      count++;
    }
  }
  if (count == 0u) {
    loss[0] = 0x7fc00000u;
    invCount[0] = 0.0;
  } else {
    loss[0] = bitcast<u32>(total / f32(count));
    invCount[0] = 1.0 / f32(count);
  }
}
