// conv2d_bpi_wgtile: conv2d's gradient to the input (dx) as an implicit GEMM with workgroup-memory tiles (GPUs),
// one dispatch per stride phase so that no K step multiplies a tap that cannot reach the pixel.
//   dx[n,ih,iw,ci] = sum_{kh,kw,co} dy[n, oh, ow, co] * w[kh,kw,ci,co],  oh = (ih + padTop - kh*DH) / SH
//   (and ow likewise), over the taps where the division is exact and the quotient lies in the output.
// Phase (ph, pw) covers the pixels ih = ph + iq*SH, iw = pw + jq*SW; there exactly the taps kh = kh0 + t*khStep
// (t < nkh) and kw = kw0 + t*kwStep (t < nkw) divide exactly, so K = nkh*nkw*Cout. GEMM rows
// m = (n*hq + iq)*wq + jq, columns ci, k = (th*nkw + tw)*Cout + co. Any channel counts.
// Tiling: as conv2d_fwd_wgtile (BM = TY*RM, BN = TX*RN, KT-deep double-buffered slabs, one barrier per step).
// Dispatch per phase: ceil(M / BM) * tilesN workgroups of TX x TY, tilesN = ceil(Cin / BN), linearized.
// dy is read through load_dy (the DY region): ops/elementwise/relu_mask.ts masks it by relu's output when fused;
// dx is stored through store_dx (the STORE region): ops/store_sum.ts adds a fan-in gradient sum (and a mask) to it.
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32, ph: u32,
  pw: u32, hq: u32, wq: u32, kh0: u32,
  khStep: u32, nkh: u32, kw0: u32, kwStep: u32,
  nkw: u32, m: u32, k: u32, tilesN: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// @region DY
fn load_dy(j: u32) -> f32 {
  return dy[j];
}
// @end DY

// @region STORE
fn store_dx(j: u32, acc: f32) {
  dx[j] = acc;
}
// @end STORE

// @include wgtile_core

var<workgroup> slabA: array<f32, 2u * BM * KT>;

/** The tap (kh, kw) of K index k (and its co = k % Cout). */
fn tapOf(k: u32) -> vec2u {
  let tap = k / p.cout;
  return vec2u(p.kh0 + (tap / p.nkw) * p.khStep, p.kw0 + (tap % p.nkw) * p.kwStep);
}

/** A(m, k): dy at the output pixel that tap k maps dx pixel m to, zero outside the output and past M or K. */
fn gatherDy(m: u32, k: u32) -> f32 {
  if (m >= p.m || k >= p.k) {
    return 0.0;
  }
  let t = tapOf(k);
  let jq = m % p.wq;
  let iq = (m / p.wq) % p.hq;
  let n = m / (p.wq * p.hq);
  // Exact divisions by the phase's construction; negative numerators are taps above or left of the output.
  let numH = i32(p.ph + iq * p.sh + p.padTop) - i32(t.x * p.dh);
  let numW = i32(p.pw + jq * p.sw + p.padLeft) - i32(t.y * p.dw);
  if (numH < 0 || numW < 0) {
    return 0.0;
  }
  let oh = u32(numH) / p.sh;
  let ow = u32(numW) / p.sw;
  if (oh >= p.oh || ow >= p.ow) {
    return 0.0;
  }
  return load_dy(((n * p.oh + oh) * p.ow + ow) * p.cout + k % p.cout);
}

/** Loads the KT-deep slabs starting at k0 into buffer `buf` (A as [KT][BM], B as [KT][BN]). */
fn loadSlabs(buf: u32, k0: u32, mBase: u32, nBase: u32, lid: u32) {
  let threads = TX * TY;
  // Consecutive invocations read consecutive k, which is co, contiguous in both dy and w.
  for (var e = lid; e < BM * KT; e += threads) {
    slabA[buf * BM * KT + (e % KT) * BM + e / KT] = gatherDy(mBase + e / KT, k0 + e % KT);
  }
  for (var e = lid; e < BN * KT; e += threads) {
    let ci = nBase + e / KT;
    let k = k0 + e % KT;
    var v = 0.0;
    if (k < p.k && ci < p.cin) {
      let t = tapOf(k);
      v = wt[((t.x * p.kw + t.y) * p.cin + ci) * p.cout + k % p.cout];
    }
    slabB[buf * BN * KT + (e % KT) * BN + e / KT] = v;
  }
}

@compute @workgroup_size(TX, TY)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  // g is the same for the whole workgroup, so this return keeps the barriers below in uniform control flow.
  if (g >= ((p.m + BM - 1u) / BM) * p.tilesN) {
    return;
  }
  let mBase = (g / p.tilesN) * BM;
  let nBase = (g % p.tilesN) * BN;
  var acc: array<f32, 64>;
  var av: array<f32, MAX_R>;
  let steps = (p.k + KT - 1u) / KT;
  loadSlabs(0u, 0u, mBase, nBase, lid);
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    let cur = s % 2u;
    if (s + 1u < steps) {
      // The other buffer was last read in step s - 1, which the barrier below ended for every invocation.
      loadSlabs(1u - cur, (s + 1u) * KT, mBase, nBase, lid);
    }
    for (var kk = 0u; kk < KT; kk++) {
      let ra = cur * BM * KT + kk * BM + lid3.y;
      let rb = cur * BN * KT + kk * BN + lid3.x;
      for (var i = 0u; i < RM; i++) {
        av[i] = slabA[ra + i * TY];
      }
      accumulate(&acc, &av, rb);
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < RM; i++) {
    let m = mBase + lid3.y + i * TY;
    if (m >= p.m) {
      break;
    }
    let jq = m % p.wq;
    let iq = (m / p.wq) % p.hq;
    let n = m / (p.wq * p.hq);
    let pix = (n * p.h + p.ph + iq * p.sh) * p.w + p.pw + jq * p.sw;
    for (var j = 0u; j < RN; j++) {
      let ci = nBase + lid3.x + j * TX;
      if (ci < p.cin) {
        store_dx(pix * p.cin + ci, acc[i * MAX_R + j]);
      }
    }
  }
}
