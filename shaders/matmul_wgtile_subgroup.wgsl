// matmul_wgtile_subgroup: matmul_wgtile with the A fragments shared across subgroup lanes (subgroupShuffle) instead of
// staged in workgroup memory; needs the 'subgroups' feature.
// Formula: out[m, n] = epilogue(sum_k A(m, k) * B(k, n)), with A(m, k) = a[m * aM + k * aK] and
// B(k, n) = b[k * bK + n * bN] (strides express the transposes). The EPILOGUE region is identity by default;
// ops/epilogue.ts generates dense()'s bias and a fused ReLU/add.
// Tiling as matmul_wgtile: BM = TY*RM rows, BN = TX*RN columns; invocation (tx, ty) accumulates RM x RN outputs at
// rows ty + i*TY and columns tx + j*TX. B goes through workgroup memory in KT-deep slabs (double-buffered, one
// barrier per K step); A goes from global memory straight to registers and across lanes (include/wgtile_subgroup).
// Shapes: A [M, K], B [K, N], out [M, N] row-major; tilesN = ceil(N / BN).
// Dispatch: ceil(M / BM) * tilesN workgroups of TX x TY, linearized over x and y.
enable subgroups;

// @include gemm_params
// @include wgtile_core
// @include matmul_wgtile_common
// @include wgtile_subgroup

/** A(m, k), zero past M and K. */
fn loadA(m: u32, k: u32) -> f32 {
  return select(0.0, a[m * p.aM + k * p.aK], m < p.m && k < p.k);
}

@compute @workgroup_size(TX, TY)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgSize: u32) {
  runSubgroupTile(wid, nwg, lid3, lid, lane, sgSize);
}
