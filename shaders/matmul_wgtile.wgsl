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
// @include gemm_params
// @include wgtile_core
// @include matmul_wgtile_common

var<workgroup> slabA: array<f32, 2u * BM * KT>;

/** Loads the KT-deep slabs starting at k0 into buffer `buf` (A as [KT][BM], B as [KT][BN]). */
fn loadSlabs(buf: u32, k0: u32, mBase: u32, nBase: u32, lid: u32) {
  // Consecutive invocations read consecutive k of A (and consecutive n of B).
  for (var e = lid; e < BM * KT; e += TX * TY) {
    let m = mBase + e / KT;
    let k = k0 + e % KT;
    slabA[buf * BM * KT + (e % KT) * BM + e / KT] = select(0.0, a[m * p.aM + k * p.aK], m < p.m && k < p.k);
  }
  loadSlabB(buf, k0, nBase, lid);
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
  storeTile(&acc, mBase, nBase, lid3);
}
