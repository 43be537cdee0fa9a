// gather_backward: dy [outer, J, inner], indices [J] -> dx [outer, D, inner],
//   dx[o, k, c] = sum over j with indices[j] == k of dy[o, j, c] (a gather over j, no scatter: deterministic).
// Indices outside [0, D) add nothing (the forward pass already reported them).
// Dispatch: ceil(outer * D * inner / WG) workgroups, linearized over x and y.
struct Params {
  outer: u32,
  d: u32,
  inner: u32,
  j: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<i32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.outer * p.d * p.inner) {
    return;
  }
  let c = i % p.inner;
  let k = i32((i / p.inner) % p.d);
  let o = i / (p.inner * p.d);
  var acc = 0.0;
  for (var j = 0u; j < p.j; j++) {
    if (indices[j] == k) {
      acc += dy[(o * p.j + j) * p.inner + c];
    }
  }
  dx[i] = acc;
}
