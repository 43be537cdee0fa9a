// conv2d_bpi_vec4_regs: backprop to the input (dx) by gathering, with a hand-unrolled register tile (CPU adapters).
//   dx[n,ih,iw,ci] = sum_{kh,kw,co : oh = (ih + padTop - kh*DH) / SH and ow = (iw + padLeft - kw*DW) / SW exact and in range}
//                    dy[n,oh,ow,co] * w[kh,kw,ci,co]
// Layout: dy NHWC, w HWIO, dx NHWC, as vec4 along channels (Cin % 4 == 0, Cout % 4 == 0).
// dy is read through load_dy (the DY region), which a fused ReLU mask replaces (ops/elementwise/relu_mask.ts);
// dx is stored through store_dx (the STORE region): ops/store_sum.ts adds a fan-in gradient sum (and a mask) to it.
// Phases as in conv2d_bpi_vec4: an invocation owns 8 pixels of one row ih that share iw mod SW
// (iw = pw + (b*8 + i)*SW), so they need the same taps, and pixel i reads ow = ow0 + i. Per invocation
// 8 pixels (two quads) x 2 vec4 groups of Cin (8 channels) in four mat4x4f accumulators (column i = pixel i).
// Why: CPU adapters run invocations as SIMD lanes, and SwiftShader keeps dynamically indexed private arrays
// (the TM x TN tiles of conv2d_bpi_vec4) in per-lane memory; here the tile is written out, the dy offsets and
// masks are vec4 computed once per tap, and the Cout loop only loads and multiplies.
// Dispatch: ceil(N*H*SW*ceil(ceil(W/SW)/8)*nGroups / WG) workgroups, nGroups = ceil(Cin / 8).
struct Params {
  n: u32, h: u32, w: u32, cin: u32,
  oh: u32, ow: u32, cout: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, dh: u32,
  dw: u32, padTop: u32, padLeft: u32, stepH: u32,
  stepW: u32, blocks: u32, nGroups: u32, total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> wt: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4f>;

// @region DY
fn load_dy(j: u32) -> vec4f {
  return dy[j];
}
// @end DY

// @region STORE
fn store_dx(j: u32, acc: vec4f) {
  dx[j] = acc;
}
// @end STORE

override WG: u32 = 64;

// The first k in [0, step) with (a - k*d) divisible by s; none exists when gcd(s, d) does not divide a.
fn firstTap(a: i32, d: u32, s: u32, step: u32) -> u32 {
  for (var k = 0u; k < step; k++) {
    if ((a - i32(k * d)) % i32(s) == 0) {
      return k;
    }
  }
  return 0xffffffffu;
}

/** The dy offsets (in vec4) of four pixels reading output columns ow, and which of them exist. */
struct Taps {
  at: vec4u,
  ok: vec4<bool>,
}

fn taps(row: u32, ow: vec4i) -> Taps {
  let ok = (ow >= vec4i(0)) & (ow < vec4i(i32(p.ow)));
  let at = (row + vec4u(ow)) * (p.cout / 4u);
  return Taps(select(vec4u(0u), at, ok), ok);
}

/** Four pixels' dy at channel group c, one pixel per column (zero where no output reaches the pixel). */
fn pixels(t: Taps, c: u32) -> mat4x4f {
  let z = vec4f(0.0);
  return mat4x4f(select(z, load_dy(t.at.x + c), t.ok.x), select(z, load_dy(t.at.y + c), t.ok.y),
    select(z, load_dy(t.at.z + c), t.ok.z), select(z, load_dy(t.at.w + c), t.ok.w));
}

/** w at filter row k (4 input channels from k) and output group c, transposed: column i = output channel i. */
fn block(k: u32, c: u32) -> mat4x4f {
  let cout4 = p.cout / 4u;
  let b = k * cout4 + c;
  return transpose(mat4x4f(wt[b], wt[b + cout4], wt[b + 2u * cout4], wt[b + 3u * cout4]));
}

/** Stores a quad's accumulators (pixel i at column iw0 + i*SW) for input group c. */
fn store(a: mat4x4f, row: u32, iw0: u32, c: u32) {
  let cin4 = p.cin / 4u;
  if (c >= cin4) {
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    let iw = iw0 + i * p.sw;
    if (iw < p.w) {
      store_dx((row + iw) * cin4 + c, a[i]);
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  if (gid >= p.total) {
    return;
  }
  let cout4 = p.cout / 4u;
  let last = p.cin / 4u - 1u;
  let g = (gid % p.nGroups) * 2u;
  var r = gid / p.nGroups;
  let b = r % p.blocks;
  r /= p.blocks;
  let pw = r % p.sw;
  r /= p.sw;
  let ih = r % p.h;
  let n = r / p.h;
  let iwFirst = pw + b * 8u * p.sw;
  if (iwFirst >= p.w) {
    return;
  }
  let k0 = min(g, last) * 4u;
  let k1 = min(g + 1u, last) * 4u;

  let ah = i32(ih + p.padTop);
  let aw = i32(iwFirst + p.padLeft);
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var b0 = mat4x4f();
  var b1 = mat4x4f();
  for (var kh = firstTap(ah, p.dh, p.sh, p.stepH); kh < p.kh; kh += p.stepH) {
    let th = ah - i32(kh * p.dh);
    if (th < 0) {
      break;
    }
    let oh = u32(th) / p.sh;
    if (oh >= p.oh) {
      continue;
    }
    let row = (n * p.oh + oh) * p.ow;
    for (var kw = firstTap(aw, p.dw, p.sw, p.stepW); kw < p.kw; kw += p.stepW) {
      let ow0 = (aw - i32(kw * p.dw)) / i32(p.sw);
      let ta = taps(row, vec4i(ow0) + vec4i(0, 1, 2, 3));
      let tb = taps(row, vec4i(ow0) + vec4i(4, 5, 6, 7));
      let wk = (kh * p.kw + kw) * p.cin;
      for (var c = 0u; c < cout4; c++) {
        let da = pixels(ta, c);
        let db = pixels(tb, c);
        let w0 = block(wk + k0, c);
        a0 += w0 * da;
        b0 += w0 * db;
        let w1 = block(wk + k1, c);
        a1 += w1 * da;
        b1 += w1 * db;
      }
    }
  }

  let rowOut = (n * p.h + ih) * p.w;
  store(a0, rowOut, iwFirst, g);
  store(a1, rowOut, iwFirst, g + 1u);
  store(b0, rowOut, iwFirst + 4u * p.sw, g);
  store(b1, rowOut, iwFirst + 4u * p.sw, g + 1u);
}
