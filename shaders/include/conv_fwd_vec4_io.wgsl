// conv_fwd_vec4_io (included by conv2d_fwd_vec4_regs, _regs8 and _regs16): x and w as vec4 along the channel axis,
// the output, and the epilogue. The EPILOGUE and BINDINGS regions are the identity and `out` alone unless
// ops/epilogue.ts generates them: the conv's bias, then what the scheduler fused into the store.
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> wt: array<vec4f>;
// @region BINDINGS
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
// @end BINDINGS

// @region EPILOGUE
fn epilogue(acc: vec4f, i: u32, c: u32) -> vec4f {
  return acc;
}
// @end EPILOGUE
