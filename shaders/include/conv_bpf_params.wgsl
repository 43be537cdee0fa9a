// conv_bpf_params (included by the register-tiled conv2d_bpf_* kernels): the dw pass's uniforms at binding 0,
// filled by src/ops/conv2d_backprop_filter.ts (k = N*OH*OW, chunk: the reduction steps of one part, rows and
// nGroups: the filter rows and output-channel groups of one part, total: invocations over all parts).
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32, k: u32,
  chunk: u32, rows: u32, nGroups: u32, total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
