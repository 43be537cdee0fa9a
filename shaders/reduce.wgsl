// reduce: x viewed as [outer, R, inner] -> out [outer, G, inner], G = ceil(R / chunk), OP 0 sum, 1 max, 2 min:
//   out[o, g, c] = scale * OP_{r in [g*chunk, min(R, (g+1)*chunk))} x[o, r, c]
// Run again on its own output until G = 1 (two passes keep long reductions parallel and deterministic).
// max and min propagate NaN (as PyTorch): a NaN term makes the result NaN whatever its position.
// Dispatch: ceil(outer * G * inner / WG) workgroups, linearized over x and y; one output per invocation.
struct Params {
  outer: u32,
  r: u32,
  inner: u32,
  chunk: u32,
  groups: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override OP: u32 = 0;

// A quiet NaN from a runtime value: a NaN in a constant expression would be a shader-creation error.
var<private> nan_bits: u32 = 0x7fc00000u;

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
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
  // Sums start from 0 (an empty range sums to 0); max and min from the first term (ranges are never empty).
  var acc = 0.0;
  var first = start;
  if (OP != 0u) {
    acc = x[(o * p.r + start) * p.inner + c];
    first = start + 1u;
  }
  var nan = is_nan(acc);
  for (var r = first; r < stop; r++) {
    let v = x[(o * p.r + r) * p.inner + c];
    nan = nan || is_nan(v);
    switch OP {
      case 1u: { acc = max(acc, v); }
      case 2u: { acc = min(acc, v); }
      default: { acc += v; }
    }
  }
  if (OP != 0u && nan) {
    acc = bitcast<f32>(nan_bits);
  }
  out[i] = acc * p.scale;
}
