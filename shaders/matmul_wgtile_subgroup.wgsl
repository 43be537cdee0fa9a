// matmul_wgtile_subgroup: matmul_wgtile with the A fragments shared across subgroup lanes (subgroupShuffle) instead of
// staged in workgroup memory; needs the 'subgroups' feature.
// Formula: out[m, n] = epilogue(sum_k A(m, k) * B(k, n)), with A(m, k) = a[m * aM + k * aK] and
// B(k, n) = b[k * bK + n * bN] (strides express the transposes). The EPILOGUE region is identity by default;
// ops/epilogue.ts generates dense()'s bias and a fused ReLU/add.
// Tiling as matmul_wgtile: BM = TY*RM rows, BN = TX*RN columns; invocation (tx, ty) accumulates RM x RN outputs at
// rows ty + i*TY and columns tx + j*TX. B goes through workgroup memory in KT-deep slabs (double-buffered, one
// barrier per K step); A does not. Invocations with the same ty need the same A rows: a group of G lanes sharing ty
// loads G consecutive k of those RM rows from global memory, one k per lane, and each lane takes the group's values
// with subgroupShuffle, G at a time.
// Any subgroup size: a survey at the start of each workgroup sets G = min(S, TX) only where every subgroup is full,
// all have one power-of-two size S dividing TX or a multiple of it, and each is S consecutive local invocation
// indices starting at a multiple of G (what GPUs do); otherwise G = 1: each lane shuffles from itself, so it
// uses only A values it loaded (same results, slower).
// Shapes: A [M, K], B [K, N], out [M, N] row-major; tilesN = ceil(N / BN).
// Dispatch: ceil(M / BM) * tilesN workgroups of TX x TY, linearized over x and y.
enable subgroups;

// @include gemm_params
// @include matmul_wgtile_common

/** The survey: the bitwise OR of every subgroup's size, and nonzero when a subgroup is not laid out as expected. */
var<workgroup> sizesSeen: atomic<u32>;
var<workgroup> layoutBroken: atomic<u32>;
/** The lane group size G the survey settled on (written by invocation 0, read by all). */
var<workgroup> groupSize: u32;

/** The lanes that share A values: G = min(S, TX) where the subgroup layout allows it (see the top), else 1. */
fn surveyGroupSize(lid: u32, lane: u32, sgSize: u32) -> u32 {
  // Every subgroup call runs in uniform control flow; the results are combined afterwards.
  let activeBits = countOneBits(subgroupBallot(true));
  let activeLanes = activeBits.x + activeBits.y + activeBits.z + activeBits.w;
  let start = lid - lane;
  let sameStart = subgroupAll(start == subgroupBroadcastFirst(start));
  let g = min(sgSize, TX);
  if (activeLanes != sgSize || !sameStart || start % g != 0u) {
    atomicStore(&layoutBroken, 1u);
  }
  atomicOr(&sizesSeen, sgSize);
  workgroupBarrier();
  if (lid == 0u) {
    let sizes = atomicLoad(&sizesSeen);
    let size = min(sizes, TX);
    let ok = atomicLoad(&layoutBroken) == 0u && countOneBits(sizes) == 1u && TX % size == 0u;
    groupSize = select(1u, size, ok);
  }
  return workgroupUniformLoad(&groupSize);
}

@compute @workgroup_size(TX, TY)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgSize: u32) {
  let g = wid.x + wid.y * nwg.x;
  // g is the same for the whole workgroup, so this return keeps the barriers and subgroup calls below uniform.
  if (g >= ((p.m + BM - 1u) / BM) * p.tilesN) {
    return;
  }
  let mBase = (g / p.tilesN) * BM;
  let nBase = (g % p.tilesN) * BN;
  let group = surveyGroupSize(lid, lane, sgSize);
  // This lane's place in its group and the group's first lane.
  let inGroup = lane % group;
  let first = lane - inGroup;
  var acc: array<f32, 64>;
  var aOwn: array<f32, MAX_R>;
  var av: array<f32, MAX_R>;
  let steps = (p.k + KT - 1u) / KT;
  loadSlabB(0u, 0u, nBase, lid);
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    let cur = s % 2u;
    if (s + 1u < steps) {
      // The other buffer was last read in step s - 1, which the barrier below ended for every invocation.
      loadSlabB(1u - cur, (s + 1u) * KT, nBase, lid);
    }
    for (var c = 0u; c < KT; c += group) {
      // This lane's share: k = s*KT + c + inGroup of each of its RM rows (zero past M and K).
      let k = s * KT + c + inGroup;
      for (var i = 0u; i < RM; i++) {
        let m = mBase + lid3.y + i * TY;
        aOwn[i] = select(0.0, a[m * p.aM + k * p.aK], m < p.m && k < p.k);
      }
      let count = min(group, KT - c);
      for (var kk = 0u; kk < count; kk++) {
        for (var i = 0u; i < RM; i++) {
          av[i] = subgroupShuffle(aOwn[i], first + kk);
        }
        let rb = cur * BN * KT + (c + kk) * BN + lid3.x;
        accumulate(&acc, &av, rb);
      }
    }
    workgroupBarrier();
  }
  storeTile(&acc, mBase, nBase, lid3);
}
