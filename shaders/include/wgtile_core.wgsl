// wgtile_core (included by matmul_wgtile*, conv2d_fwd_wgtile*, conv2d_bpi_wgtile and conv2d_bpf_wgtile): the
// workgroup tile's constants, the double-buffered B slab ([KT][BN] per buffer) and one k's multiply-accumulate into
// an invocation's RM x RN tile.
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
