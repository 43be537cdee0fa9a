// binary: out[i] = a[i % aLen] OP b[i % bLen], OP chosen by the override OP (0 add, 1 sub, 2 mul).
// A shorter operand repeats along the leading axes (trailing-axis broadcast; a length of 1 is a scalar).
// Shapes: out has n = max(aLen, bLen) elements. Dispatch: ceil(n / WG) workgroups, linearized over x and y.
struct Params {
  n: u32,
  aLen: u32,
  bLen: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override OP: u32 = 0;

fn apply(x: f32, y: f32) -> f32 {
  switch OP {
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    default: { return x + y; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  out[i] = apply(a[i % p.aLen], b[i % p.bLen]);
}
