// relu backward: dx[i] = dy[i] where y[i] > 0, else 0 (y is relu's output, so the mask needs no x).
// Shapes: dy, y and dx have n elements. Dispatch: ceil(n / WG) workgroups, linearized over x and y.
// Layout: V is vec4<f32> when n is a multiple of 4 (n counts V), else f32.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> y: array<V>;
@group(0) @binding(3) var<storage, read_write> dx: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  dx[i] = select(V(0.0), dy[i], y[i] > V(0.0));
}
