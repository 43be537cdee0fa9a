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
// @include wgtile_core
// @include conv_fwd_wgtile_common

var<workgroup> slabA: array<f32, 2u * BM * KT>;

/** Loads the KT-deep slabs starting at k0 into buffer `buf` (A as [KT][BM], B as [KT][BN]). */
fn loadSlabs(buf: u32, k0: u32, mBase: u32, nBase: u32, lid: u32) {
  // Consecutive invocations read consecutive k of A (input channels) and consecutive co of B.
  for (var e = lid; e < BM * KT; e += TX * TY) {
    slabA[buf * BM * KT + (e % KT) * BM + e / KT] = im2col(mBase + e / KT, k0 + e % KT);
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
