// dropout: keeps x[i] with probability 1 - rate, scaled by 1 / (1 - rate); mask[i] is that factor (0 or
// 1 / (1 - rate)), saved for the backward pass (dx = dy * mask). The draw for element i is a PCG hash of
// (seed, i): the same seed gives the same mask on every device; src/reference/dropout.ts computes it too.
// Shapes: x, out, mask have n elements. Dispatch: ceil(n / WG) workgroups, linearized over x and y.
struct Params {
  n: u32,
  seed: u32,
  rate: f32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;

override WG: u32 = 64;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  // 24 random bits: a uniform draw in [0, 1) that float32 holds exactly.
  let u = f32(pcg(i ^ pcg(p.seed)) >> 8u) / 16777216.0;
  let m = select(0.0, p.scale, u >= p.rate);
  mask[i] = m;
  out[i] = x[i] * m;
}
