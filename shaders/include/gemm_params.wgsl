// gemm_params (included by matmul_register, matmul_tiled, matmul_wgtile, matmul_wgtile_subgroup): the GEMM's
// uniforms and bindings as src/ops/matmul.ts fills them, and the BINDINGS and EPILOGUE regions ops/epilogue.ts replaces.
struct Params {
  m: u32,
  n: u32,
  k: u32,
  aM: u32,
  aK: u32,
  bK: u32,
  bN: u32,
  tilesN: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
// @region BINDINGS
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// @end BINDINGS

// @region EPILOGUE
fn epilogue(acc: f32, i: u32, c: u32) -> f32 {
  return acc;
}
// @end EPILOGUE
