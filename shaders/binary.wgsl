// binary: out[i] = a[i % aLen] OP b[i % bLen], OP chosen by the override OP (0 add, 1 sub, 2 mul).
// A shorter operand repeats along the leading axes (trailing-axis broadcast; a length of 1 is a scalar);
// A_REPEATS / B_REPEATS say which one does, so equal shapes index without a division.
// Layout: V is vec4<f32> when every length is a multiple of 4 (all counts below in V), else f32.
// Shapes: out has n = max(aLen, bLen) elements. Dispatch: ceil(n / WG) workgroups, linearized over x and y.
// The ACTIVATION region is the identity unless the scheduler fused a following ReLU (a residual add's).
// @region VEC
alias V = vec4<f32>;
// @end VEC

// @region ACTIVATION
fn activate(v: V) -> V {
  return v;
}
// @end ACTIVATION

struct Params {
  n: u32,
  aLen: u32,
  bLen: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<V>;
@group(0) @binding(2) var<storage, read> b: array<V>;
@group(0) @binding(3) var<storage, read_write> out: array<V>;

override WG: u32 = 64;
override OP: u32 = 0;
override A_REPEATS: bool = false;
override B_REPEATS: bool = false;

fn apply(x: V, y: V) -> V {
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
  var ia = i;
  if (A_REPEATS) {
    ia = i % p.aLen;
  }
  var ib = i;
  if (B_REPEATS) {
    ib = i % p.bLen;
  }
  out[i] = activate(apply(a[ia], b[ib]));
}
