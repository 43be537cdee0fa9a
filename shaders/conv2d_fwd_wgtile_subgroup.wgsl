// conv2d_fwd_wgtile_subgroup: conv2d_fwd_wgtile with the im2col fragments shared across subgroup lanes
// (subgroupShuffle) instead of staged in workgroup memory; needs the 'subgroups' feature.
//   out[n,oh,ow,co] = epilogue(sum_{kh,kw,ci} x[n, oh*SH - padTop + kh*DH, ow*SW - padLeft + kw*DW, ci] * w[kh,kw,ci,co])
// Layout and GEMM view as conv2d_fwd_wgtile: x NHWC, w HWIO, out NHWC, any channel counts; rows
// m = (n*OH + oh)*OW + ow, columns co, K = (kh*KW + kw)*Cin + ci; A(m, k) is im2col, B(k, co) = w[k*Cout + co].
// Tiling as conv2d_fwd_wgtile (BM = TY*RM rows, BN = TX*RN columns, invocation (tx, ty) at rows ty + i*TY and
// columns tx + j*TX). The weights go through workgroup memory in KT-deep slabs (double-buffered, one barrier per
// K step); each lane gathers its share of im2col into registers and the lanes exchange them (include/wgtile_subgroup).
// Dispatch: ceil(M / BM) * tilesN workgroups of TX x TY, tilesN = ceil(Cout / BN), linearized over x and y.
enable subgroups;

// @include wgtile_core
// @include conv_fwd_wgtile_common
// @include wgtile_subgroup

/** A(m, k): the im2col element, zero in the padding and past M and K. */
fn loadA(m: u32, k: u32) -> f32 {
  return im2col(m, k);
}

@compute @workgroup_size(TX, TY)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgSize: u32) {
  runSubgroupTile(wid, nwg, lid3, lid, lane, sgSize);
}
