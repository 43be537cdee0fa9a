// broadcast: x [outer, inner] -> out [outer, R, inner], out[o, r, c] = scale * x[o, c]
// (the backward of sum and mean over the middle axis).
// Dispatch: ceil(outer * R * inner / WG) workgroups, linearized over x and y.
struct Params {
  outer: u32,
  r: u32,
  inner: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.outer * p.r * p.inner) {
    return;
  }
  let c = i % p.inner;
  let o = i / (p.inner * p.r);
  out[i] = x[o * p.inner + c] * p.scale;
}
