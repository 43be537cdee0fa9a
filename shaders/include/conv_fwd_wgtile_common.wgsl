// conv_fwd_wgtile_common (included by conv2d_fwd_wgtile and conv2d_fwd_wgtile_subgroup, after wgtile_core): the
// implicit GEMM's uniforms and bindings (filled by src/ops/conv2d.ts), the BINDINGS and EPILOGUE regions
// ops/epilogue.ts replaces, the im2col gather of A, the weights' slab loader and the output store.
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32,
  m: u32, k: u32, tilesN: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
// @region BINDINGS
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// @end BINDINGS

// @region EPILOGUE
fn epilogue(acc: f32, i: u32, c: u32) -> f32 {
  return acc;
}
// @end EPILOGUE

// outAt: where output element i (in the store's element type) goes: i itself unless ops/epilogue.ts generates the
// region for the concatStore pass, which stores the conv's channels as a slice of a wider NHWC tensor (a concat).
// @region OUT_AT
fn outAt(i: u32) -> u32 {
  return i;
}
// @end OUT_AT

/** The im2col element A(m, k): x at the window tap k of output pixel m, zero in the padding and past M or K. */
fn im2col(m: u32, k: u32) -> f32 {
  if (m >= p.m || k >= p.k) {
    return 0.0;
  }
  let ci = k % p.cin;
  let tap = k / p.cin;
  let ow = m % p.ow;
  let oh = (m / p.ow) % p.oh;
  let n = m / (p.ow * p.oh);
  let ih = i32(oh * p.sh + (tap / p.kw) * p.dh) - i32(p.padTop);
  let iw = i32(ow * p.sw + (tap % p.kw) * p.dw) - i32(p.padLeft);
  if (ih < 0 || ih >= i32(p.h) || iw < 0 || iw >= i32(p.w)) {
    return 0.0;
  }
  return x[((n * p.h + u32(ih)) * p.w + u32(iw)) * p.cin + ci];
}

/** Loads the KT-deep slab of the weights B(k, co) starting at k0 into buffer `buf`, as [KT][BN], zero past the edges. */
fn loadSlabB(buf: u32, k0: u32, nBase: u32, lid: u32) {
  // Consecutive invocations read consecutive co.
  for (var e = lid; e < BN * KT; e += TX * TY) {
    let n = nBase + e % BN;
    let k = k0 + e / BN;
    slabB[buf * BN * KT + e] = select(0.0, wt[k * p.cout + n], k < p.k && n < p.cout);
  }
}

/** Stores an invocation's RM x RN outputs (rows ty + i*TY, channels tx + j*TX of the block) through the epilogue. */
fn storeTile(acc: ptr<function, array<f32, 64>>, mBase: u32, nBase: u32, lid3: vec3u) {
  for (var j = 0u; j < RN; j++) {
    let co = nBase + lid3.x + j * TX;
    if (co >= p.cout) {
      break;
    }
    for (var i = 0u; i < RM; i++) {
      let m = mBase + lid3.y + i * TY;
      if (m < p.m) {
        out[outAt(m * p.cout + co)] = epilogue((*acc)[i * MAX_R + j], m * p.cout + co, co);
      }
    }
  }
}
