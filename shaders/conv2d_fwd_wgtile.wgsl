// conv2d_fwd_wgtile: forward convolution as an implicit GEMM with double-buffered workgroup-memory tiles (GPUs).
//   out[n,oh,ow,co] = epilogue(sum_{kh,kw,ci} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * w[kh,kw,ci,co])
// The EPILOGUE and BINDINGS regions are the identity and `out` alone unless ops/epilogue.ts generates them: the
// conv's bias, then what the scheduler fused into the store (batch-norm apply, residual add, ReLU).
// Layout: x NHWC, w HWIO, out NHWC, any channel counts. GEMM rows m = (n*OH + oh)*OW + ow, columns co, and
// K = (kh*KW + kw)*Cin + ci, so B(k, co) = w[k*Cout + co] and A(m, k) is the input pixel of the window (zero in
// the padding): the im2col matrix, gathered while the slab is loaded, never stored.
// Tiling: BM = TY*RM rows, BN = TX*RN columns; each invocation accumulates RM x RN outputs at rows ty + i*TY and
// columns tx + j*TX. KT-deep slabs of A and B alternate between two workgroup buffers: one barrier per K step.
// Dispatch: ceil(M / BM) * tilesN workgroups of TX x TY, tilesN = ceil(Cout / BN), linearized over x and y.
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32,
  m: u32, k: u32, tilesN: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
// @region BINDINGS
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// @end BINDINGS

// @region EPILOGUE
fn epilogue(acc: f32, i: u32, c: u32) -> f32 {
  return acc;
}
// @end EPILOGUE

override TX: u32 = 16;
override TY: u32 = 16;
override RM: u32 = 4;
override RN: u32 = 4;
override KT: u32 = 16;
override BM: u32 = TY * RM;
override BN: u32 = TX * RN;
const MAX_R = 8u;

var<workgroup> slabA: array<f32, 2u * BM * KT>;
var<workgroup> slabB: array<f32, 2u * BN * KT>;

/** The im2col element A(m, k): x at the window tap k of output pixel m, zero in the padding and past M or K. */
fn im2col(m: u32, k: u32) -> f32 {
  if (m >= p.m || k >= p.k) {
    return 0.0;
  }
  let ci = k % p.cin;
  let tap = k / p.cin;
  let ow = m % p.ow;
  let oh = (m / p.ow) % p.oh;
  let n = m / (p.ow * p.oh);
  let ih = i32(oh * p.sh + (tap / p.kw) * p.dh) - i32(p.padTop);
  let iw = i32(ow * p.sw + (tap % p.kw) * p.dw) - i32(p.padLeft);
  if (ih < 0 || ih >= i32(p.h) || iw < 0 || iw >= i32(p.w)) {
    return 0.0;
  }
  return x[((n * p.h + u32(ih)) * p.w + u32(iw)) * p.cin + ci];
}

/** Loads the KT-deep slabs starting at k0 into buffer `buf` (A as [KT][BM], B as [KT][BN]). */
fn loadSlabs(buf: u32, k0: u32, mBase: u32, nBase: u32, lid: u32) {
  let threads = TX * TY;
  // Consecutive invocations read consecutive k of A (input channels) and consecutive co of B.
  for (var e = lid; e < BM * KT; e += threads) {
    slabA[buf * BM * KT + (e % KT) * BM + e / KT] = im2col(mBase + e / KT, k0 + e % KT);
  }
  for (var e = lid; e < BN * KT; e += threads) {
    let n = nBase + e % BN;
    let k = k0 + e / BN;
    slabB[buf * BN * KT + e] = select(0.0, wt[k * p.cout + n], k < p.k && n < p.cout);
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
  var bv: array<f32, MAX_R>;
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
      for (var j = 0u; j < RN; j++) {
        bv[j] = slabB[rb + j * TX];
      }
      for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) {
          acc[i * MAX_R + j] = fma(av[i], bv[j], acc[i * MAX_R + j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var j = 0u; j < RN; j++) {
    let co = nBase + lid3.x + j * TX;
    if (co >= p.cout) {
      break;
    }
    for (var i = 0u; i < RM; i++) {
      let m = mBase + lid3.y + i * TY;
      if (m < p.m) {
        out[m * p.cout + co] = epilogue(acc[i * MAX_R + j], m * p.cout + co, co);
      }
    }
  }
}
