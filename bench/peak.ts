// The adapter's FP32 peak, measured with FMA chains (shaders/peak_fma.wgsl): the denominator of "% of peak".
// Usage (alone): npx tsx bench/peak.ts; the op benchmark calls measurePeak itself.
import type * as Wg from '../src/index.js';
import { state } from '../src/graph/state.js';

/** Median GFLOP/s of the FMA kernel over `reps` timed submits, each sized to last about `targetMs`. */
export async function measurePeak(wg: typeof Wg, reps = 5, targetMs = 200): Promise<number> {
  const rt = state.runtime;
  if (!rt) throw new Error('peak: call wg.init() first');
  const software = wg.info().software;
  const wgSize = Math.min(256, rt.info.limits.maxComputeInvocationsPerWorkgroup ?? 256);
  const iters = 1024;
  // Enough invocations to fill every core or multiprocessor: a CPU has few, an H200 runs ~270k at once.
  const invocations = software ? 64 * wgSize : 4096 * wgSize;
  const out = rt.pool.acquire(invocations * 4);
  const flopsPerDispatch = invocations * iters * 64;
  const dispatch = {
    shader: 'peak_fma' as const,
    constants: { WG: wgSize, ITERS: iters },
    uniforms: [{ f32: 0.5 }, invocations],
    buffers: [out],
    workgroups: invocations / wgSize,
  };
  const time = async (count: number) => {
    rt.beginCapture();
    const t0 = performance.now();
    rt.submit(
      Array.from({ length: count }, () => dispatch),
      [],
    );
    const verdict = rt.endCapture();
    await rt.device.queue.onSubmittedWorkDone();
    const ms = performance.now() - t0;
    const error = await verdict;
    if (error) throw error;
    return ms;
  };
  try {
    await time(1);
    const once = await time(1);
    const count = Math.max(1, Math.min(200, Math.round(targetMs / Math.max(once, 1e-3))));
    const rates: number[] = [];
    for (let r = 0; r < reps; r++) rates.push((count * flopsPerDispatch) / ((await time(count)) * 1e6));
    rates.sort((a, b) => a - b);
    return rates[rates.length >> 1];
  } finally {
    rt.pool.release(out);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const wg = await import('../src/index.js');
  const info = await wg.init();
  console.log(
    `${info.backend}: ${info.description}: FP32 peak ${(await measurePeak(wg)).toFixed(1)} GFLOP/s`,
  );
  wg.release();
}
