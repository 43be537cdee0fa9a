// matmul_register: barrier-free GEMM, each invocation keeps a 4x4 output tile in registers (llvmpipe, CPUs).
// Formula: out[m, n] = epilogue(sum_k A(m, k) * B(k, n)), with A(m, k) = a[m * aM + k * aK] and
// B(k, n) = b[k * bK + n * bN]: the strides express tf.matMul's transposeA / transposeB without copies.
// The EPILOGUE region is identity by default; ops/epilogue.ts generates dense()'s bias and fused ReLU/add.
// Per k step an invocation loads 4 values of A and 4 of B for 16 FMAs; edge tiles clamp their loads
// to the last row/column and drop the extra results at the store, so no branch sits in the inner loop.
// Shapes: A [M, K], B [K, N], out [M, N] row-major; tilesN = ceil(N / 4).
// Dispatch: ceil(ceil(M / 4) / (WG / BX)) * ceil(tilesN / BX) workgroups, linearized over x and y;
// neighbouring invocations take neighbouring column tiles, so their B loads are contiguous and A loads coincide.
// @include gemm_params

override WG: u32 = 64;
// Column tiles per workgroup: a power of two dividing WG, narrower for thin outputs so no lane idles.
override BX: u32 = 8;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // The workgroup covers a block of (WG / BX) x BX tiles, so its invocations share rows of A and columns of B.
  let g = wid.x + wid.y * nwg.x;
  let blocksN = (p.tilesN + BX - 1u) / BX;
  let rowTile = (g / blocksN) * (WG / BX) + lid / BX;
  let colTile = (g % blocksN) * BX + lid % BX;
  if (rowTile * 4u >= p.m || colTile >= p.tilesN) {
    return;
  }
  let m0 = rowTile * 4u;
  let n0 = colTile * 4u;
  let lane = vec4u(0u, 1u, 2u, 3u);
  let rowA = min(vec4u(m0) + lane, vec4u(p.m - 1u)) * p.aM;
  let colB = min(vec4u(n0) + lane, vec4u(p.n - 1u)) * p.bN;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k = 0u; k < p.k; k++) {
    let ak = k * p.aK;
    let bk = k * p.bK;
    let av = vec4f(a[rowA.x + ak], a[rowA.y + ak], a[rowA.z + ak], a[rowA.w + ak]);
    let bv = vec4f(b[bk + colB.x], b[bk + colB.y], b[bk + colB.z], b[bk + colB.w]);
    acc0 += av.x * bv;
    acc1 += av.y * bv;
    acc2 += av.z * bv;
    acc3 += av.w * bv;
  }
  let rows = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= p.m) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n < p.n) {
        out[m * p.n + n] = epilogue(rows[i][j], m * p.n + n, n);
      }
    }
  }
}
