// depthwise_bpi: depthwise convolution's backward pass to the input, gathering (one invocation per dx element).
//   dx[n,ih,iw,c] = sum_{m,kh,kw} dy[n,oh,ow,c*M+m] * w[kh,kw,c,m] over the taps with
//   oh*SH = ih + padTop - kh*DH and ow*SW = iw + padLeft - kw*DW (integer and inside the output).
// Layout: dy NHWC, w [KH,KW,C,M], dx NHWC. V is vec4<f32> when M == 1 and C % 4 == 0 (cvIn = cvOut = C / 4,
// mult = 1), else f32 (cvIn = C, cvOut = C*M, mult = M): input group c reads output groups c*mult .. c*mult+mult-1.
// Dispatch: ceil(N*H*W*cvIn / WG) workgroups, linearized over x and y; no barriers.
// @region VEC
alias V = vec4<f32>;
// @end VEC

struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32, cvIn: u32,
  cvOut: u32, mult: u32, total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> wt: array<V>;
@group(0) @binding(3) var<storage, read_write> dx: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let c = i % p.cvIn;
  let t = i / p.cvIn;
  let iw = t % p.w;
  let t2 = t / p.w;
  let ih = t2 % p.h;
  let n = t2 / p.h;
  var acc = V(0.0);
  for (var kh = 0u; kh < p.kh; kh++) {
    let th = i32(ih + p.padTop) - i32(kh * p.dh);
    if (th < 0 || u32(th) % p.sh != 0u || u32(th) / p.sh >= p.oh) {
      continue;
    }
    let row = (n * p.oh + u32(th) / p.sh) * p.ow;
    for (var kw = 0u; kw < p.kw; kw++) {
      let tw = i32(iw + p.padLeft) - i32(kw * p.dw);
      if (tw < 0 || u32(tw) % p.sw != 0u || u32(tw) / p.sw >= p.ow) {
        continue;
      }
      let dyo = (row + u32(tw) / p.sw) * p.cvOut;
      let wo = (kh * p.kw + kw) * p.cvOut;
      for (var m = 0u; m < p.mult; m++) {
        let co = c * p.mult + m;
        acc += dy[dyo + co] * wt[wo + co];
      }
    }
  }
  dx[i] = acc;
}
