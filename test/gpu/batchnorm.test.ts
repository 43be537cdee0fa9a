// GPU numerics for batch norm (training, inference, running averages, backward) vs the float64 reference.
import { describe, expect, it } from 'vitest';
import { batchNorm, mul, ones, sum, tensor, zeros, type Tensor } from '../../src/index.js';
import { refMoments, refMovingAverage } from '../../src/reference/batchnorm.js';
import { expectClose, expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();

function input(shape: number[], seed: number, requiresGrad = true, offset = 0): Tensor {
  const v = seeded(
    shape.reduce((a, b) => a * b, 1),
    seed,
  ).map((x) => x + offset);
  return tensor(v, shape, { requiresGrad });
}

describe('batchNorm', () => {
  const shapes = [
    [3, 5, 7, 6],
    [1, 9, 4, 8],
    [2, 3, 3, 3],
    [16, 10],
    [2, 64, 64, 16],
  ];
  for (const shape of shapes) {
    it(`training forward, running averages and backward on ${JSON.stringify(shape)}`, async () => {
      const c = shape[shape.length - 1];
      const x = input(shape, c + shape[0], true, 3);
      const gamma = input([c], 2);
      const beta = input([c], 3);
      const runningMean = input([c], 4, false);
      const runningVar = tensor(
        seeded(c, 5).map((v) => v + 2),
        [c],
      );
      const refLeaves = [runningMean, runningVar].map((t) => t.data());
      const before = await Promise.all(refLeaves);
      const y = batchNorm(x, { gamma, beta, runningMean, runningVar, training: true, momentum: 0.9 });
      const [, mean, variance] = y.node!.outputs;
      sum(mul(y, input(shape, 6, false))).backward();
      // Sums over up to 65,536 rows in float32: a few ulps of the sum, relative. dgamma = invStd * sum dy (x - mean)
      // also carries the float32 mean's rounding (an ulp of |mean| ~ 3 is 2.4e-7) times |sum dy| * invStd (~90 at
      // 8192 rows): 2e-5 per ulp, and the single pass (ops/batchnorm_single.ts) lands 1-3 ulps off as the two-pass did.
      await expectMatchesReference([y, mean, variance, x.grad!], { atol: 2e-5, rtol: 1e-4 });
      await expectMatchesReference([gamma.grad!, beta.grad!], { atol: 1e-4, rtol: 1e-4 }, 'dgamma, dbeta');
      const [m, v] = await Promise.all([mean.data(), variance.data()]);
      const [rm, rv] = await Promise.all([runningMean.data(), runningVar.data()]);
      expectClose(
        rm,
        Array.from(before[0], (old, i) => 0.9 * old + 0.1 * m[i]),
        { atol: 1e-6, rtol: 1e-6 },
        'runningMean',
      );
      expectClose(
        rv,
        Array.from(before[1], (old, i) => 0.9 * old + 0.1 * v[i]),
        { atol: 1e-6, rtol: 1e-6 },
        'runningVar',
      );
    });
  }

  // Single pass (C % 4 != 0, vec4, two rows per channel) and the two-pass kernels (more than 2^15 rows).
  for (const shape of [
    [3, 5, 7, 6],
    [2, 1, 1, 8],
    [2, 128, 130, 3],
  ]) {
    for (const runningVarCorrection of [0, 1]) {
      it(`running averages with runningVarCorrection ${runningVarCorrection} on ${JSON.stringify(shape)} vs float64`, async () => {
        const c = shape[shape.length - 1];
        const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const x = input(shape, 31 + c, false, 3);
        const runningMean = input([c], 32, false);
        const runningVar = tensor(
          seeded(c, 33).map((v) => v + 2),
          [c],
        );
        const [xs, rm0, rv0] = await Promise.all([x.data(), runningMean.data(), runningVar.data()]);
        batchNorm(x, {
          gamma: ones([c]),
          beta: zeros([c]),
          runningMean,
          runningVar,
          training: true,
          momentum: 0.9,
          runningVarCorrection,
        });
        const moments = refMoments({ shape, data: Float64Array.from(xs) });
        const scale = rows / (rows - runningVarCorrection);
        const wantMean = refMovingAverage({ shape: [c], data: Float64Array.from(rm0) }, moments.mean, 0.9, 1);
        const wantVar = refMovingAverage(
          { shape: [c], data: Float64Array.from(rv0) },
          moments.variance,
          0.9,
          scale,
        );
        expectClose(await runningMean.data(), wantMean.data, { atol: 1e-6, rtol: 1e-5 }, 'runningMean');
        expectClose(await runningVar.data(), wantVar.data, { atol: 1e-6, rtol: 1e-5 }, 'runningVar');
      });
    }
  }

  it('inference uses the running averages and leaves them unchanged; gradients flow', async () => {
    const x = input([2, 5, 3, 7], 11);
    const gamma = input([7], 12);
    const beta = input([7], 13);
    const runningMean = input([7], 14, false);
    const runningVar = ones([7]);
    const y = batchNorm(x, { gamma, beta, runningMean, runningVar, training: false, epsilon: 1e-5 });
    sum(mul(y, input([2, 5, 3, 7], 15, false))).backward();
    await expectMatchesReference([y, x.grad!, gamma.grad!, beta.grad!], { atol: 1e-5, rtol: 1e-5 });
    expect(Array.from(await runningVar.data())).toEqual(new Array(7).fill(1));
  });

  it('keeps the variance of data far from zero accurate (no sum-of-squares cancellation)', async () => {
    const x = input([4, 32, 32, 4], 21, false, 1000);
    const y = batchNorm(x, {
      gamma: ones([4]),
      beta: zeros([4]),
      runningMean: zeros([4]),
      runningVar: ones([4]),
      training: true,
    });
    await expectMatchesReference([y.node!.outputs[2]], { atol: 1e-6, rtol: 1e-3 });
  });
});
