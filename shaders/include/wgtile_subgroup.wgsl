// wgtile_subgroup (included by the *_wgtile_subgroup kernels, after wgtile_core; they `enable subgroups;`): the
// A fragments of a workgroup tile shared across subgroup lanes. Invocations with the same ty need the same A rows:
// a group of G lanes sharing ty loads G consecutive k of those RM rows, one k per lane, and each lane takes the
// group's values with subgroupShuffle. Any subgroup size: a survey at the start of each workgroup sets G = min(S, TX)
// only where every subgroup is full, all have one power-of-two size S that divides TX or is a multiple of it, and
// each is S consecutive local invocation indices starting at a multiple of G (what GPUs do); otherwise G = 1: each
// lane shuffles from itself, so it uses only the A values it loaded (same results, slower).
// The kernel provides loadA(m, k) (A(m, k), zero past M and K), and with wgtile_core and its common include
// p.m, p.k, p.tilesN, loadSlabB and storeTile; its entry point calls runSubgroupTile.
/** The survey: the bitwise OR of every subgroup's size, and nonzero when a subgroup is not laid out as expected. */
var<workgroup> sizesSeen: atomic<u32>;
var<workgroup> layoutBroken: atomic<u32>;
/** The lane group size G the survey settled on (written by invocation 0, read by all). */
var<workgroup> groupSize: u32;

/** The lanes that share A values: G = min(S, TX) where the subgroup layout allows it (see the top), else 1. Call
 * once per workgroup, in uniform control flow. */
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

/**
 * acc += the `count` k of this lane group's chunk: A's RM values of k = c + kk come from lane first + kk's `aOwn`,
 * B's from slabB rows rowB + kk*BN. `count` must be uniform (the shuffles run in uniform control flow).
 */
fn multiplyChunk(acc: ptr<function, array<f32, 64>>, aOwn: ptr<function, array<f32, MAX_R>>, first: u32, count: u32,
                 rowB: u32) {
  var av: array<f32, MAX_R>;
  for (var kk = 0u; kk < count; kk++) {
    for (var i = 0u; i < RM; i++) {
      av[i] = subgroupShuffle((*aOwn)[i], first + kk);
    }
    accumulate(acc, &av, rowB + kk * BN);
  }
}

/** One workgroup's BM x BN block: B through workgroup memory, A through registers and lane shuffles. */
fn runSubgroupTile(wid: vec3u, nwg: vec3u, lid3: vec3u, lid: u32, lane: u32, sgSize: u32) {
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
      // This lane's share: k = s*KT + c + inGroup of each of its RM rows.
      for (var i = 0u; i < RM; i++) {
        aOwn[i] = loadA(mBase + lid3.y + i * TY, s * KT + c + inGroup);
      }
      multiplyChunk(&acc, &aOwn, first, min(group, KT - c), cur * BN * KT + c * BN + lid3.x);
    }
    workgroupBarrier();
  }
  storeTile(&acc, mBase, nBase, lid3);
}
