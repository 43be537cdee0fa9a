// matmul_wgtile_common (included by matmul_wgtile and matmul_wgtile_subgroup): the tile constants, B's
// double-buffered slab, one K step's multiply-accumulate and the output store (after gemm_params).
override TX: u32 = 16;
override TY: u32 = 16;
override RM: u32 = 4;
override RN: u32 = 4;
override KT: u32 = 16;
override BM: u32 = TY * RM;
override BN: u32 = TX * RN;
/** The most rows or columns an invocation accumulates: acc holds MAX_R x MAX_R. */
const MAX_R = 8u;

var<workgroup> slabB: array<f32, 2u * BN * KT>;

/** Loads the KT-deep slab of B starting at k0 into buffer `buf`, as [KT][BN], zero past the edges. */
fn loadSlabB(buf: u32, k0: u32, nBase: u32, lid: u32) {
  // Consecutive invocations read consecutive n.
  for (var e = lid; e < BN * KT; e += TX * TY) {
    let n = nBase + e % BN;
    let k = k0 + e / BN;
    slabB[buf * BN * KT + e] = select(0.0, b[k * p.bK + n * p.bN], k < p.k && n < p.n);
  }
}

/** acc += av (RM rows of A) times the RN columns of B at slabB[rb + j*TX]: one k of an invocation's tile. */
fn accumulate(acc: ptr<function, array<f32, 64>>, av: ptr<function, array<f32, MAX_R>>, rb: u32) {
  var bv: array<f32, MAX_R>;
  for (var j = 0u; j < RN; j++) {
    bv[j] = slabB[rb + j * TX];
  }
  for (var i = 0u; i < RM; i++) {
    for (var j = 0u; j < RN; j++) {
      (*acc)[i * MAX_R + j] = fma((*av)[i], bv[j], (*acc)[i * MAX_R + j]);
    }
  }
}

/** Stores an invocation's RM x RN outputs (rows ty + i*TY, columns tx + j*TX of the block) through the epilogue. */
fn storeTile(acc: ptr<function, array<f32, 64>>, mBase: u32, nBase: u32, lid3: vec3u) {
  for (var i = 0u; i < RM; i++) {
    let m = mBase + lid3.y + i * TY;
    for (var j = 0u; j < RN; j++) {
      let n = nBase + lid3.x + j * TX;
      if (m < p.m && n < p.n) {
        out[m * p.n + n] = epilogue((*acc)[i * MAX_R + j], m * p.n + n, n);
      }
    }
  }
}
