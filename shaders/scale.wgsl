// scale: out[i] = x[i] * s.
// Shapes: x and out have n elements. Dispatch: ceil(n / WG) workgroups, linearized over x and y.
// Layout: V is vec4<f32> when n is a multiple of 4 (n counts V), else f32.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  n: u32,
  s: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read_write> out: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  out[i] = x[i] * p.s;
}
