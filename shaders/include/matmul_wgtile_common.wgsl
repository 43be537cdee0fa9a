// matmul_wgtile_common (included by matmul_wgtile and matmul_wgtile_subgroup, after gemm_params and
// wgtile_core): B's slab loader and the output store of the GEMM.
/** Loads the KT-deep slab of B starting at k0 into buffer `buf`, as [KT][BN], zero past the edges. */
fn loadSlabB(buf: u32, k0: u32, nBase: u32, lid: u32) {
  // Consecutive invocations read consecutive n.
  for (var e = lid; e < BN * KT; e += TX * TY) {
    let n = nBase + e % BN;
    let k = k0 + e / BN;
    slabB[buf * BN * KT + e] = select(0.0, b[k * p.bK + n * p.bN], k < p.k && n < p.n);
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
