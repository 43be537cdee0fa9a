// matmul_tiled: shared-memory GEMM for real GPUs; a workgroup computes a (4*TS) x (4*TS) output tile.
// Formula: out[m, n] = epilogue(sum_k A(m, k) * B(k, n)), with A(m, k) = a[m * aM + k * aK] and
// B(k, n) = b[k * bK + n * bN] (strides express the transposes). The EPILOGUE region is identity by
// default; ops/epilogue.ts generates dense()'s bias and a fused ReLU/add.
// Per K step of KT the workgroup stages a [4*TS, KT] slab of A and a [KT, 4*TS] slab of B in workgroup
// memory (zero-filled past the edges), then each of its TS x TS invocations accumulates a 4x4 tile
// in registers. Two barriers per K step: cheap on GPUs, expensive on llvmpipe (use matmul_register there).
// Shapes: A [M, K], B [K, N], out [M, N] row-major; tilesN = ceil(N / (4*TS)).
// Dispatch: ceil(M / (4*TS)) * tilesN workgroups of TS x TS, linearized over x and y.
// @include gemm_params

override TS: u32 = 8;
override KT: u32 = 32;

var<workgroup> tileA: array<f32, 4u * TS * KT>;
var<workgroup> tileB: array<f32, 4u * TS * KT>;

@compute @workgroup_size(TS, TS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  // g is the same for the whole workgroup, so this return keeps the barriers below in uniform control flow.
  if (g >= ((p.m + 4u * TS - 1u) / (4u * TS)) * p.tilesN) {
    return;
  }
  let tile = 4u * TS;
  let mBase = (g / p.tilesN) * tile;
  let nBase = (g % p.tilesN) * tile;
  let threads = TS * TS;
  var acc = array<vec4f, 4>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  for (var k0 = 0u; k0 < p.k; k0 += KT) {
    // Consecutive invocations fill consecutive k of A's slab and consecutive n of B's slab.
    for (var e = lid; e < tile * KT; e += threads) {
      let m = mBase + e / KT;
      let ka = k0 + e % KT;
      tileA[e] = select(0.0, a[m * p.aM + ka * p.aK], m < p.m && ka < p.k);
      let kb = k0 + e / tile;
      let n = nBase + e % tile;
      tileB[e] = select(0.0, b[kb * p.bK + n * p.bN], kb < p.k && n < p.n);
    }
    workgroupBarrier();
    // The last slab may be partial: skip its zero-filled steps (uniform bound, no divergence).
    let steps = min(KT, p.k - k0);
    for (var kk = 0u; kk < steps; kk++) {
      let r = lid3.y * 4u;
      let av = vec4f(tileA[r * KT + kk], tileA[(r + 1u) * KT + kk], tileA[(r + 2u) * KT + kk],
                     tileA[(r + 3u) * KT + kk]);
      let c = kk * tile + lid3.x * 4u;
      let bv = vec4f(tileB[c], tileB[c + 1u], tileB[c + 2u], tileB[c + 3u]);
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = mBase + lid3.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let n = nBase + lid3.x * 4u + j;
      if (m < p.m && n < p.n) {
        out[m * p.n + n] = epilogue(acc[i][j], m * p.n + n, n);
      }
    }
  }
}
