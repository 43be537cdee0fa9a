// batch_norm_train_single: training batch norm in one dispatch, for per-channel reductions short enough for one
// workgroup (ops/batchnorm_single.ts singlePass):
//   mean[c] = batch mean, variance[c] = biased batch variance of x[r, c] over every row r,
//   y = (x - mean[c]) * gamma[c] / sqrt(variance[c] + eps) + beta[c], stored through the epilogue,
// and the running averages updated in place from mean[c] and variance[c] (the RUNNING regions: batch_norm_update's
// updateRunning, include batch_norm_running; ops/batchnorm_single.ts empties both when they are not updated here).
// Layout: x, y [rows, C] (NHWC flattened); V is vec4<f32> (cv = C / 4) or f32 (cv = C), as the VEC region says.
// Shapes: x, y rows*cv V; gamma, beta, mean, variance, runningMean, runningVar [cv] V. Dispatch: cv workgroups, one
// channel group each, linearized over x and y; its WG invocations take rows lid, lid + WG, ... .
// Numerics as batch_norm_stats + batch_norm_stats_combine: each invocation runs Welford over its rows, the WG
// partials are merged in invocation order (Chan et al.) by every invocation alike, so all hold the same statistics.
// y's expression is batch_norm_apply's, and the EPILOGUE (include batch_norm_apply_bindings) and BINDINGS regions
// are those ops/epilogue.ts generates for it (residual add, then ReLU): fused results equal the epilogue pass's.
// @include batch_norm_apply_bindings

struct Params {
  rows: u32,
  cv: u32,
  eps: f32,
  momentum: f32,
  varianceScale: f32,
}

@group(0) @binding(4) var<storage, read_write> mean: array<V>;
@group(0) @binding(5) var<storage, read_write> variance: array<V>;
// @region RUNNING
@group(0) @binding(6) var<storage, read_write> runningMean: array<V>;
@group(0) @binding(7) var<storage, read_write> runningVar: array<V>;
// @include batch_norm_running
// @end RUNNING
// @region BINDINGS
@group(0) @binding(8) var<storage, read_write> y: array<V>;
// @end BINDINGS

override WG: u32 = 64;

var<workgroup> partMean: array<V, WG>;
var<workgroup> partM2: array<V, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.cv) {
    return;
  }
  var m = V(0.0);
  var m2 = V(0.0);
  var n = 0.0;
  for (var r = lid; r < p.rows; r += WG) {
    n += 1.0;
    let v = x[r * p.cv + c];
    let d = v - m;
    m += d * (1.0 / n);
    m2 += d * (v - m);
  }
  partMean[lid] = m;
  partM2[lid] = m2;
  workgroupBarrier();
  // Invocation t took ceil((rows - t) / WG) rows; those past rows took none.
  var na = 0.0;
  var ma = V(0.0);
  var sa = V(0.0);
  for (var t = 0u; t < min(WG, p.rows); t++) {
    let nb = f32((p.rows - t + WG - 1u) / WG);
    let nt = na + nb;
    let d = partMean[t] - ma;
    ma += d * (nb / nt);
    sa += partM2[t] + d * d * (na * nb / nt);
    na = nt;
  }
  let va = sa * (1.0 / f32(p.rows));
  if (lid == 0u) {
    mean[c] = ma;
    variance[c] = va;
    // @region RUNNING_UPDATE
    updateRunning(c, ma, va);
    // @end RUNNING_UPDATE
  }
  let scale = gamma[c] * inverseSqrt(va + p.eps);
  for (var r = lid; r < p.rows; r += WG) {
    let i = r * p.cv + c;
    y[i] = epilogue((x[i] - ma) * scale + beta[c], i, c);
  }
}
