// conv2d_bpf_wgtile: conv2d's gradient to the filter (dw) as a GEMM with workgroup-memory tiles (GPUs), the
// N*OH*OW reduction split into chunks whose partial sums a sum pass of `reduce` adds.
//   dw[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * dy[n,oh,ow,co]
// GEMM rows m = (kh*KW + kw)*Cin + ci (the HWIO order, so dw[m*Cout + co]), columns co, reduction index
// k = (n*OH + oh)*OW + ow over [split*chunk, min(K, (split+1)*chunk)). Any channel counts.
// Tiling: as conv2d_fwd_wgtile (BM = TY*RM, BN = TX*RN, KT-deep double-buffered slabs, one barrier per step).
// Output: part[split, m, co] (part is dw itself when there is one split).
// Dispatch: splits * tilesM * tilesN workgroups of TX x TY, linearized over x and y.
// dy is read through load_dy (the DY region): ops/elementwise/relu_mask.ts masks it by relu's output when fused.
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32, k: u32,
  chunk: u32, m: u32, tilesM: u32, tilesN: u32,
  splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

// @region DY
fn load_dy(j: u32) -> f32 {
  return dy[j];
}
// @end DY

// @include wgtile_core

var<workgroup> slabA: array<f32, 2u * BM * KT>;

/** A(m, k): x under tap m's filter position for output pixel k, zero in the padding and past M or kEnd. */
fn gatherX(m: u32, k: u32, kEnd: u32) -> f32 {
  if (m >= p.m || k >= kEnd) {
    return 0.0;
  }
  let ci = m % p.cin;
  let tap = m / p.cin;
  let ow = k % p.ow;
  let oh = (k / p.ow) % p.oh;
  let n = k / (p.ow * p.oh);
  let ih = i32(oh * p.sh + (tap / p.kw) * p.dh) - i32(p.padTop);
  let iw = i32(ow * p.sw + (tap % p.kw) * p.dw) - i32(p.padLeft);
  if (ih < 0 || ih >= i32(p.h) || iw < 0 || iw >= i32(p.w)) {
    return 0.0;
  }
  return x[((n * p.h + u32(ih)) * p.w + u32(iw)) * p.cin + ci];
}

/** Loads the KT-deep slabs starting at k0 into buffer `buf` (A as [KT][BM], B as [KT][BN]). */
fn loadSlabs(buf: u32, k0: u32, kEnd: u32, mBase: u32, nBase: u32, lid: u32) {
  let threads = TX * TY;
  // Consecutive invocations read consecutive m of A (input channels) and consecutive co of B.
  for (var e = lid; e < BM * KT; e += threads) {
    slabA[buf * BM * KT + e] = gatherX(mBase + e % BM, k0 + e / BM, kEnd);
  }
  for (var e = lid; e < BN * KT; e += threads) {
    let co = nBase + e % BN;
    let k = k0 + e / BN;
    slabB[buf * BN * KT + e] = select(0.0, load_dy(k * p.cout + co), k < kEnd && co < p.cout);
  }
}

@compute @workgroup_size(TX, TY)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  let perSplit = p.tilesM * p.tilesN;
  // g is the same for the whole workgroup, so this return keeps the barriers below in uniform control flow.
  if (g >= perSplit * p.splits) {
    return;
  }
  let split = g / perSplit;
  let t = g % perSplit;
  let mBase = (t / p.tilesN) * BM;
  let nBase = (t % p.tilesN) * BN;
  let kBegin = split * p.chunk;
  let kEnd = min(p.k, kBegin + p.chunk);
  var acc: array<f32, 64>;
  var av: array<f32, MAX_R>;
  let steps = (kEnd - kBegin + KT - 1u) / KT;
  loadSlabs(0u, kBegin, kEnd, mBase, nBase, lid);
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    let cur = s % 2u;
    if (s + 1u < steps) {
      // The other buffer was last read in step s - 1, which the barrier below ended for every invocation.
      loadSlabs(1u - cur, kBegin + (s + 1u) * KT, kEnd, mBase, nBase, lid);
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
  let base = split * p.m * p.cout;
  for (var i = 0u; i < RM; i++) {
    let m = mBase + lid3.y + i * TY;
    if (m >= p.m) {
      break;
    }
    for (var j = 0u; j < RN; j++) {
      let co = nBase + lid3.x + j * TX;
      if (co < p.cout) {
        part[base + m * p.cout + co] = acc[i * MAX_R + j];
      }
    }
  }
}
