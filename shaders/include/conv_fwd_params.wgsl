// conv_fwd_params (included by the direct conv2d_fwd_* kernels): the forward convolution's uniforms at binding 0,
// filled by src/ops/conv2d.ts (nGroups: the output-channel groups one row of invocations covers).
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32,
  m: u32, nGroups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
