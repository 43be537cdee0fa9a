// conv_bpf_io (included by the register-tiled conv2d_bpf_* kernels, which alias XV to x's element type and DV to
// dy's and the parts'): x, dy and the parts at bindings 1-3, and dy's load. dy is read through load_dy (the DY
// region): ops/elementwise/relu_mask.ts masks it by relu's output when fused.
@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read> dy: array<DV>;
@group(0) @binding(3) var<storage, read_write> part: array<DV>;

// @region DY
fn load_dy(j: u32) -> DV {
  return dy[j];
}
// @end DY

override WG: u32 = 64;
