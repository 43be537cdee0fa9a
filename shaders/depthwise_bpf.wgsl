// depthwise_bpf: depthwise convolution's backward pass to the filter, reducing over N*OH*OW in chunks.
//   part[s, kh, kw, co] = sum_{r in chunk s} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, co / M] * dy[n,oh,ow,co]
// with r = (n*OH + oh)*OW + ow and co = c*M + m; the S parts are added by a sum pass of `reduce` (or, with one
// chunk, this writes dw directly). Layout: x, dy NHWC; part [S, KH, KW, C*M]. V is vec4<f32> when M == 1 and
// C % 4 == 0 (cvIn = cvOut = C / 4, mult = 1), else f32 (cvIn = C, cvOut = C*M, mult = M).
// Dispatch: ceil(S*KH*KW*cvOut / WG) workgroups, linearized over x and y; chunk <= 65,535 (llvmpipe's loop limit).
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32, cvIn: u32,
  cvOut: u32, mult: u32, k: u32, chunk: u32,
  total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> dy: array<V>;
@group(0) @binding(3) var<storage, read_write> part: array<V>;

override WG: u32 = 64;

// @include conv_bpf_walk

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let size = p.kh * p.kw * p.cvOut;
  let s = i / size;
  let e = i % size;
  let co = e % p.cvOut;
  let tap = e / p.cvOut;
  let ci = co / p.mult;
  let off = tapOffset(tap);
  let r0 = s * p.chunk;
  let r1 = min(r0 + p.chunk, p.k);
  var q = pixel(r0);
  var acc = V(0.0);
  for (var r = r0; r < r1; r++) {
    let src = source(q, off);
    if (src != OUTSIDE) {
      acc += x[src * p.cvIn + ci] * dy[r * p.cvOut + co];
    }
    q = next(q);
  }
  part[i] = acc;
}
