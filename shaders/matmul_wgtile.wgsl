// matmul_wgtile: GPU GEMM with double-buffered workgroup-memory tiles; a workgroup computes a BM x BN output tile.
// Formula: out[m, n] = epilogue(sum_k A(m, k) * B(k, n)), with A(m, k) = a[m * aM + k * aK] and
// B(k, n) = b[k * bK + n * bN] (strides express the transposes). The EPILOGUE region is identity by default;
// ops/epilogue.ts generates dense()'s bias and a fused ReLU/add.
// Tiling: BM = TY*RM rows, BN = TX*RN columns; TX x TY invocations, each accumulating RM x RN outputs in
// registers at rows ty + i*TY and columns tx + j*TX (neighbouring invocations store neighbouring columns). The K
// loop stages KT-deep slabs of A and B in two workgroup buffers: while one is read, the next slab is loaded into
// the other, so each K step needs a single barrier. Slabs are zero-filled past the edges.
// Shapes: A [M, K], B [K, N], out [M, N] row-major; tilesN = ceil(N / BN).
// Dispatch: ceil(M / BM) * tilesN workgroups of TX x TY, linearized over x and y.
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

/** Loads the KT-deep slabs starting at k0 into buffer `buf` (A as [KT][BM], B as [KT][BN]). */
fn loadSlabs(buf: u32, k0: u32, mBase: u32, nBase: u32, lid: u32) {
  let threads = TX * TY;
  // Consecutive invocations read consecutive k of A and consecutive n of B.
  for (var e = lid; e < BM * KT; e += threads) {
    let m = mBase + e / KT;
    let k = k0 + e % KT;
    slabA[buf * BM * KT + (e % KT) * BM + e / KT] = select(0.0, a[m * p.aM + k * p.aK], m < p.m && k < p.k);
  }
  for (var e = lid; e < BN * KT; e += threads) {
    let n = nBase + e % BN;
    let k = k0 + e / BN;
    slabB[buf * BN * KT + e] = select(0.0, b[k * p.bK + n * p.bN], k < p.k && n < p.n);
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
  for (var i = 0u; i < RM; i++) {
    let m = mBase + lid3.y + i * TY;
    for (var j = 0u; j < RN; j++) {
      let n = nBase + lid3.x + j * TX;
      if (m < p.m && n < p.n) {
        out[m * p.n + n] = epilogue(acc[i * MAX_R + j], m * p.n + n, n);
      }
    }
  }
}
