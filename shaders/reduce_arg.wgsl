// reduce_arg: argmax (OP 0) or argmin (OP 1) of x viewed as [outer, R, inner], in chunks like reduce.wgsl:
//   val[o, g, c], idx[o, g, c] = the extreme of x over r in chunk g and its index (first one on ties;
//   NaN counts as the extreme, as PyTorch). A later pass (FIRST = false) reduces those pairs, reading the
//   indices of the previous pass from `xi`, until G = 1. Indices are int32 along the reduced axis.
// Dispatch: ceil(outer * G * inner / WG) workgroups, linearized over x and y.
struct Params {
  outer: u32,
  r: u32,
  inner: u32,
  chunk: u32,
  groups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> xi: array<i32>;
@group(0) @binding(3) var<storage, read_write> val: array<f32>;
@group(0) @binding(4) var<storage, read_write> idx: array<i32>;

override WG: u32 = 64;
override OP: u32 = 0;
override FIRST: bool = true;

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

/** Whether v replaces the best so far: strictly more extreme, or the first NaN. */
fn better(v: f32, best: f32) -> bool {
  if (is_nan(best)) {
    return false;
  }
  if (is_nan(v)) {
    return true;
  }
  return select(v > best, v < best, OP == 1u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.outer * p.groups * p.inner) {
    return;
  }
  let c = i % p.inner;
  let g = (i / p.inner) % p.groups;
  let o = i / (p.inner * p.groups);
  let start = g * p.chunk;
  let stop = min(p.r, start + p.chunk);
  var best = x[(o * p.r + start) * p.inner + c];
  var at = i32(start);
  for (var r = start + 1u; r < stop; r++) {
    let v = x[(o * p.r + r) * p.inner + c];
    if (better(v, best)) {
      best = v;
      at = i32(r);
    }
  }
  val[i] = best;
  if (FIRST) {
    idx[i] = at;
  } else {
    idx[i] = xi[(o * p.r + u32(at)) * p.inner + c];
  }
}
