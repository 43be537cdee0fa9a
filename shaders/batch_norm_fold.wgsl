// batch_norm_fold: an inference batch norm folded into the conv before it (the foldBatchNorm fusion pass).
//   s[c] = gamma[c] / sqrt(variance[c] + eps);  wf[i] = w[i] * s[i % C];  bf[c] = (bias[c] - mean[c]) * s[c] + beta[c]
// Layout: w, wf [KH*KW*Cin, C] (HWIO flattened, output channel last); gamma, beta, mean, variance, bias, bf [C].
// Without a conv bias the plan binds gamma as `bias` and hasBias = 0 keeps it unread.
// Dispatch: ceil(total / WG) workgroups over the elements of w (total >= C), linearized over x and y.
struct Params {
  total: u32,
  c: u32,
  hasBias: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> variance: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read_write> wf: array<f32>;
@group(0) @binding(8) var<storage, read_write> bf: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let c = i % p.c;
  let s = gamma[c] * inverseSqrt(variance[c] + p.eps);
  wf[i] = w[i] * s;
  if (i < p.c) {
    var b = 0.0;
    if (p.hasBias != 0u) {
      b = bias[i];
    }
    bf[i] = (b - mean[i]) * s + beta[i];
  }
}
