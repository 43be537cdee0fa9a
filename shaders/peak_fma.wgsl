// peak_fma: the adapter's FP32 arithmetic peak, measured: independent fused multiply-add chains, no memory traffic.
// Each invocation runs ITERS steps of 8 independent vec4 FMA chains (8 * 4 * 2 = 64 FLOPs a step) on values
// the compiler cannot fold (they start from the invocation index and a uniform), then writes one sum so
// nothing is dead code. FLOPs per dispatch = invocations * ITERS * 64.
// Dispatch: any number of workgroups of WG, linearized over x and y; out has one float per invocation.
struct Params {
  seed: f32,
  count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;
override ITERS: u32 = 1024;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = (wid.x + wid.y * nwg.x) * WG + lid;
  let s = f32(gid) * 1e-7 + p.seed;
  let m = vec4f(0.9999, 0.9998, 0.9997, 0.9996);
  let c = vec4f(s, s * 0.5, s * 0.25, s * 0.125);
  var a0 = c;
  var a1 = c + 1.0;
  var a2 = c + 2.0;
  var a3 = c + 3.0;
  var a4 = c + 4.0;
  var a5 = c + 5.0;
  var a6 = c + 6.0;
  var a7 = c + 7.0;
  for (var i = 0u; i < ITERS; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);
  }
  let v = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  if (gid < p.count) {
    out[gid] = v.x + v.y + v.z + v.w;
  }
}
