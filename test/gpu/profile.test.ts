// wg.profile: per-kernel medians and shares, kernel-by-kernel on llvmpipe, timestamps on SwiftShader; no value changes.
import { describe, expect, it } from 'vitest';
import {
  SGD,
  batchNorm,
  conv2d,
  info,
  init,
  mean,
  ones,
  profile,
  relu,
  release,
  tensor,
  tidy,
  zeros,
  type Tensor,
} from '../../src/index.js';
import { seeded, useGpu } from '../helpers.js';

useGpu();

/** A conv → batch norm → relu training step with its own parameters (same seeds: same values). */
function model() {
  const x = tensor(seeded(2 * 7 * 6 * 3, 1), [2, 7, 6, 3]);
  const w = tensor(seeded(3 * 3 * 3 * 5, 2), [3, 3, 3, 5], { requiresGrad: true });
  const gamma = ones([5], { requiresGrad: true });
  const beta = zeros([5], { requiresGrad: true });
  const runningMean = zeros([5]);
  const runningVar = ones([5]);
  const opt = new SGD([w, gamma, beta], { lr: 0.1, momentum: 0.9 });
  const forward = (training: boolean): Tensor =>
    relu(batchNorm(conv2d(x, w, { padding: 'same' }), { gamma, beta, runningMean, runningVar, training }));
  const step = async () => {
    tidy(() => {
      const loss = mean(forward(true));
      loss.backward();
      return loss;
    }).dispose();
    await opt.step();
    opt.zeroGrad();
  };
  return { w, runningMean, forward, step };
}

describe('profile', () => {
  it('times every kernel of a training step and leaves the training exactly as without profiling', async () => {
    const a = model();
    const b = model();
    const p = await profile(a.step, { runs: 2, warmup: 1 });
    console.log(p.text);
    // warmup + runs unprofiled + runs profiled = 5 real steps.
    for (let i = 0; i < 5; i++) await b.step();
    expect(Array.from(await a.w.data())).toEqual(Array.from(await b.w.data()));
    expect(Array.from(await a.runningMean.data())).toEqual(Array.from(await b.runningMean.data()));
    expect(p.mode).toBe(info().features.includes('timestamp-query') ? 'timestamp-query' : 'kernel-by-kernel');
    expect(p.runs).toBe(2);
    expect(p.kernels.length).toBeGreaterThan(5);
    expect(p.kernels.map((k) => k.shader)).toContain('optimizer_update');
    for (const k of p.kernels) expect(k.medianMs).toBeGreaterThan(0);
    expect(p.kernels.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1, 6);
    expect(p.kernelMs).toBeGreaterThan(0);
    expect(p.stepMs).toBeGreaterThan(0);
    expect(p.text).toMatch(/shader/);
    expect(p.text.split('\n').length).toBeLessThanOrEqual(3 + 15 + 1);
  });

  it('refuses bad options', async () => {
    const { step } = model();
    await expect(profile(step, { runs: 0 })).rejects.toThrow(/'runs' must be an integer >= 1/);
    await expect(profile(step, { rnus: 2 } as never)).rejects.toThrow(/unknown option 'rnus'/);
  });

  it('uses timestamp queries where the adapter has them (SwiftShader)', async () => {
    release();
    try {
      const opened = await init({ backend: 'swiftshader' });
      expect(opened.features).toContain('timestamp-query');
      const { forward } = model();
      const read = async () => {
        const y = tidy(() => forward(false));
        await y.data();
        y.dispose();
      };
      const p = await profile(read, { runs: 2, warmup: 1 });
      console.log(p.text);
      expect(p.mode).toBe('timestamp-query');
      // The epilogue pass writes the batch-norm apply and the ReLU in the conv's store: one kernel.
      expect(p.kernels.map((k) => k.nodes.map((n) => n.op).join('+'))).toEqual([
        'conv2d+batchNormInference+relu',
      ]);
      for (const k of p.kernels) expect(k.medianMs).toBeGreaterThan(0);
      expect(p.submitOverheadMs).toBe(0);
    } finally {
      release();
      await init({ poisonBuffers: true });
    }
  }, 60_000);
});
