// check_finite: flags[slot] = min over i of (i << 1 | isInfinity) for every element x[i] that is NaN or ±Infinity.
// The bits are tested (exponent all ones), not the float, because shader compilers may assume no NaN exists.
// flags[slot] starts at 0xffffffff (nothing found); the host reads it back after the flush (debug.checkFinite).
// Shapes: x has n f32 elements (read as u32 bits), element 0 being element `offset` of the tensor (a tensor larger
// than one binding is checked window by window); flags has one u32 per check slot of the flush.
// Dispatch: ceil(n / WG) workgroups, linearized over x and y; one invocation per element.
struct Params {
  n: u32,
  slot: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> flags: array<atomic<u32>>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  let bits = x[i];
  if ((bits & 0x7f800000u) == 0x7f800000u) {
    let infinity = select(0u, 1u, (bits & 0x007fffffu) == 0u);
    atomicMin(&flags[p.slot], (min(i + p.offset, 0x7fffffffu) << 1u) | infinity);
  }
}
