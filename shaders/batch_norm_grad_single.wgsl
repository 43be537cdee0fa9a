// batch_norm_grad_single: the whole training batch-norm backward in one dispatch, for per-channel reductions short
// enough for one workgroup (ops/batchnorm_single.ts singlePass). With M = rows, invStd = 1 / sqrt(variance + eps),
// xhat = (x - mean) * invStd:
//   dbeta[c] = sum dy, dgamma[c] = invStd * sum dy * (x - mean),
//   dx = gamma * invStd * (dy - (dbeta + xhat * dgamma) / M)   (batch_norm_grad_input's expression).
// Layout: dy, x, dx [rows, C]; V is vec4<f32> (cv = C / 4) or f32 (cv = C), as the VEC region says.
// Shapes: dy, x, dx rows*cv V; gamma, mean, variance, dgamma, dbeta [cv] V. Dispatch: cv workgroups, one channel
// group each, linearized over x and y; its WG invocations take rows lid, lid + WG, ... and their partial sums are
// added in invocation order by every invocation alike (deterministic, the same sums everywhere).
// The uniforms, the first five bindings and load_dy (the DY region: ops/elementwise/relu_mask.ts masks dy by relu's
// output when fused) are include batch_norm_grad_bindings, shared with batch_norm_grad_input.
// @include batch_norm_grad_bindings

@group(0) @binding(6) var<storage, read_write> dx: array<V>;
@group(0) @binding(7) var<storage, read_write> dgamma: array<V>;
@group(0) @binding(8) var<storage, read_write> dbeta: array<V>;

override WG: u32 = 64;

var<workgroup> partDy: array<V, WG>;
var<workgroup> partDyx: array<V, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.cv) {
    return;
  }
  let m = mean[c];
  var sdy = V(0.0);
  var sdyx = V(0.0);
  for (var r = lid; r < p.rows; r += WG) {
    let i = r * p.cv + c;
    let d = load_dy(i);
    sdy += d;
    sdyx += d * (x[i] - m);
  }
  partDy[lid] = sdy;
  partDyx[lid] = sdyx;
  workgroupBarrier();
  var db = V(0.0);
  var dgx = V(0.0);
  for (var t = 0u; t < WG; t++) {
    db += partDy[t];
    dgx += partDyx[t];
  }
  let invStd = inverseSqrt(variance[c] + p.eps);
  let dg = dgx * invStd;
  if (lid == 0u) {
    dgamma[c] = dg;
    dbeta[c] = db;
  }
  let scale = gamma[c] * invStd;
  for (var r = lid; r < p.rows; r += WG) {
    let i = r * p.cv + c;
    let xhat = (x[i] - m) * invStd;
    dx[i] = scale * (load_dy(i) - (db + xhat * dg) * p.invRows);
  }
}
