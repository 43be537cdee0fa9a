// concat_copy: copies a strided block of rows, the forward of concat (one dispatch per input) and its backward slice.
//   dst[o * dstStride + dstOffset + j] = src[o * srcStride + srcOffset + j]   for o < outer, j < len
// Layout: both buffers viewed as [outer, stride] row-major (stride = extent of the concat axis times the inner size),
// in elements V: vec4<f32> when len, both strides and both offsets are multiples of 4 (all divided by 4 on the
// host), else f32 (CPU adapters pay per load and per invocation: a vec4 copy needs a quarter of both).
// Dispatch: ceil(outer * len / WG) workgroups, linearized over x and y; one element V per invocation.
// @region VEC
alias V = vec4<f32>;
// @end VEC
struct Params {
  outer: u32,
  len: u32,
  srcStride: u32,
  srcOffset: u32,
  dstStride: u32,
  dstOffset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<V>;
@group(0) @binding(2) var<storage, read_write> dst: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.outer * p.len) {
    return;
  }
  let o = i / p.len;
  let j = i - o * p.len;
  dst[o * p.dstStride + p.dstOffset + j] = src[o * p.srcStride + p.srcOffset + j];
}
