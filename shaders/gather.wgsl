// gather: x viewed as [outer, D, inner], indices [J] (int32) -> out [outer, J, inner],
//   out[o, j, c] = x[o, indices[j], c]; an index outside [0, D) writes 0 and lowers flags[slot] to j, so the
//   flush's reads fail naming it (indices may be computed on the device, where the host cannot check them).
// Dispatch: ceil(outer * J * inner / WG) workgroups, linearized over x and y.
struct Params {
  outer: u32,
  d: u32,
  inner: u32,
  j: u32,
  slot: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> flags: array<atomic<u32>>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.outer * p.j * p.inner) {
    return;
  }
  let c = i % p.inner;
  let j = (i / p.inner) % p.j;
  let o = i / (p.inner * p.j);
  let k = indices[j];
  if (k < 0 || u32(k) >= p.d) {
    atomicMin(&flags[p.slot], j);
    out[i] = 0.0;
    return;
  }
  out[i] = x[(o * p.d + u32(k)) * p.inner + c];
}
