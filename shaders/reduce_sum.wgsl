// reduce_sum: x viewed as [outer, R, inner] -> out [outer, G, inner], G = ceil(R / chunk):
//   out[o, g, c] = scale * sum_{r in [g*chunk, min(R, (g+1)*chunk))} x[o, r, c]
// Run again on its own output until G = 1 (a two-pass reduction keeps long sums parallel and deterministic).
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
  var acc = 0.0;
  for (var r = start; r < stop; r++) {
    acc += x[(o * p.r + r) * p.inner + c];
  }
  out[i] = acc * p.scale;
}
