// pad: out[c] = x[(c - lo) / step] where c - lo lands on x's lattice along every axis, else `value`:
// constant padding (step 1) and the backward pass of a strided slice (dx from dy, zeros off the lattice).
// Per axis d < rank: dims[d] = (out extent, lo, step (sign = direction), x extent), strides[d].x = x's stride.
// Shapes: out has n elements, x any; rank <= 8. Dispatch: ceil(n / WG) workgroups, linearized over x and y.
struct Params {
  n: u32,
  rank: u32,
  value: f32,
  pad0: u32,
  dims: array<vec4<i32>, 8>,
  strides: array<vec4<u32>, 8>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  var rest = i;
  var at = 0u;
  var inside = true;
  for (var k = 0u; k < p.rank; k++) {
    let d = p.rank - 1u - k;
    let dim = p.dims[d];
    let c = i32(rest % u32(dim.x));
    rest = rest / u32(dim.x);
    let t = (c - dim.y) * sign(dim.z);
    let step = abs(dim.z);
    let j = t / step;
    if (t < 0 || t % step != 0 || j >= dim.w) {
      inside = false;
    } else {
      at += u32(j) * p.strides[d].x;
    }
  }
  out[i] = select(p.value, x[at], inside);
}
