// matmul_register_vec4: the barrier-free 4x4 register-tiled GEMM with vec4 loads of B and vec4 stores.
// Formula: out[m, n] = epilogue(sum_k A(m, k) * B(k, n)), A(m, k) = a[m * aM + k * aK] (either layout),
// B(k, n) = b[k * N + n] (not transposed). The EPILOGUE region is identity by default; ops/epilogue.ts
// generates dense()'s bias and a fused ReLU/add. Needs N % 4 == 0, so each row of B and of out is a whole number of vec4s.
// Per k step an invocation loads 4 scalars of A and one vec4 of B for 16 FMAs; edge rows clamp their
// A loads and are dropped at the store.
// Shapes: A [M, K], B [K, N], out [M, N] row-major; tilesN = N / 4.
// Dispatch: ceil(ceil(M / 4) / (WG / BX)) * ceil(tilesN / BX) workgroups, linearized over x and y.
struct Params {
  m: u32,
  n: u32,
  k: u32,
  aM: u32,
  aK: u32,
  tilesN: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
// @region BINDINGS
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
// @end BINDINGS

// @region EPILOGUE
fn epilogue(acc: vec4f, i: u32, c: u32) -> vec4f {
  return acc;
}
// @end EPILOGUE

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
  let tn = (g % blocksN) * BX + lid % BX;
  if (rowTile * 4u >= p.m || tn >= p.tilesN) {
    return;
  }
  let m0 = rowTile * 4u;
  let rowA = min(vec4u(m0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.m - 1u)) * p.aM;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k = 0u; k < p.k; k++) {
    let ak = k * p.aK;
    let bv = b[k * p.tilesN + tn];
    acc0 += a[rowA.x + ak] * bv;
    acc1 += a[rowA.y + ak] * bv;
    acc2 += a[rowA.z + ak] * bv;
    acc3 += a[rowA.w + ak] * bv;
  }
  let rows = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= p.m) {
      break;
    }
    out[m * p.tilesN + tn] = epilogue(rows[i], m * p.tilesN + tn, tn);
  }
}
