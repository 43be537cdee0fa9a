// GPU numerics for softmax and softmax cross-entropy (forward, saved probabilities, backward) vs the reference.
import { describe, expect, it } from 'vitest';
import { mul, softmax, softmaxCrossEntropy, sum, tensor, type Tensor } from '../../src/index.js';
import { expectClose, expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const tol = { atol: 1e-6, rtol: 1e-5 };

function logits(shape: number[], seed: number, spread = 4): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    seeded(n, seed).map((v) => v * spread),
    shape,
    { requiresGrad: true },
  );
}

const labelsFor = (n: number, k: number, seed: number) =>
  tensor(
    Array.from(seeded(n, seed), (v) => Math.floor(((v + 1) / 2) * k)),
    [n],
    { dtype: 'int32' },
  );

describe('softmax', () => {
  for (const shape of [
    [1, 1],
    [3, 10],
    [2, 3, 7],
    [70_000, 3],
  ]) {
    it(`forward and backward on ${JSON.stringify(shape)}`, async () => {
      const x = logits(shape, 1);
      const y = softmax(x);
      const w = tensor(seeded(y.size, 2), shape);
      sum(mul(y, w)).backward();
      await expectMatchesReference([y, x.grad!], tol);
    });
  }

  it('stays finite for huge logits (max subtraction)', async () => {
    const x = tensor([1000, 1001, -1000, 0, 88, 89], [2, 3]);
    const p = await softmax(x).data();
    const e = Math.exp(1);
    expectClose(
      p,
      [1 / (1 + e), e / (1 + e), 0, 1 / (1 + Math.exp(88) + Math.exp(89)), 0.2689414, 0.7310586],
      {
        atol: 1e-6,
        rtol: 1e-5,
      },
    );
  });
});

describe('softmaxCrossEntropy', () => {
  for (const [n, k] of [
    [1, 1],
    [1, 10],
    [5, 3],
    [64, 10],
    [3, 1001],
  ]) {
    it(`N=${n} K=${k}: loss, probabilities and gradient`, async () => {
      const x = logits([n, k], n + k);
      const labels = labelsFor(n, k, 3);
      const loss = softmaxCrossEntropy(x, labels);
      loss.backward();
      await expectMatchesReference([loss, loss.node!.outputs[1], x.grad!], { atol: 1e-5, rtol: 1e-5 });
    });
  }

  it('is finite for logits that would overflow exp (log-sum-exp)', async () => {
    const x = tensor([1000, -1000, 0, 500], [2, 2]);
    const loss = await softmaxCrossEntropy(x, tensor([1, 1], [2], { dtype: 'int32' })).data();
    // Row 0: 2000 (log-sum-exp minus the label's logit); row 1: log(1 + e^-500) ≈ 0; mean 1000.
    expect(loss[0]).toBeCloseTo(1000, 3);
  });

  it('treats out-of-range labels as zero one-hot rows: zero loss and zero gradient there', async () => {
    const x = logits([4, 3], 9);
    const labels = tensor([2, -1, 3, 0], [4], { dtype: 'int32' });
    const loss = softmaxCrossEntropy(x, labels);
    loss.backward();
    await expectMatchesReference([loss, x.grad!], { atol: 1e-6, rtol: 1e-5 });
    const g = await x.grad!.data();
    expect(Array.from(g.slice(3, 9))).toEqual([0, 0, 0, 0, 0, 0]);
    const [xs, l] = [await x.data(), await loss.data()];
    // Mean over all 4 rows of the two valid rows' losses.
    const rowLoss = (r: number, c: number) =>
      Math.log(Math.exp(xs[3 * r]) + Math.exp(xs[3 * r + 1]) + Math.exp(xs[3 * r + 2])) - xs[3 * r + c];
    expect(l[0]).toBeCloseTo((rowLoss(0, 2) + rowLoss(3, 0)) / 4, 5);
  });
});
