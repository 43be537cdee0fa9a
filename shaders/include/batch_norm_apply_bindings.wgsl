// batch_norm_apply_bindings (included by batch_norm_apply and batch_norm_train_single): the element aliases (VEC
// region: vec4 lanes, or f32 as ops/lanes.ts sets them), y's store function (EPILOGUE region: the identity unless
// ops/epilogue.ts generates it), the uniforms at binding 0 (the includer's Params) and x, gamma, beta at 1-3.
// @region VEC
alias V = vec4<f32>;
alias VU = vec4<u32>;
// @end VEC

// @region EPILOGUE
fn epilogue(acc: V, i: u32, c: u32) -> V {
  return acc;
}
// @end EPILOGUE

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> gamma: array<V>;
@group(0) @binding(3) var<storage, read> beta: array<V>;
