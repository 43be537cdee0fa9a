// batch_norm_grad_bindings (included by batch_norm_grad_input and batch_norm_grad_single): the element alias (VEC
// region: vec4 lanes, or f32 as ops/lanes.ts sets it), the uniforms (rows, channel groups cv, epsilon, 1 / rows),
// dy, x, gamma, mean, variance at bindings 1-5, and load_dy (DY region: ops/elementwise/relu_mask.ts masks dy by
// relu's output when fused).
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  rows: u32,
  cv: u32,
  eps: f32,
  invRows: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> x: array<V>;
@group(0) @binding(3) var<storage, read> gamma: array<V>;
@group(0) @binding(4) var<storage, read> mean: array<V>;
@group(0) @binding(5) var<storage, read> variance: array<V>;

// @region DY
fn load_dy(j: u32) -> V {
  return dy[j];
}
// @end DY
