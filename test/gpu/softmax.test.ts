// GPU numerics for softmax and softmax cross-entropy (forward, saved probabilities, backward) vs the reference.
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  argmax,
  mul,
  softmax,
  softmaxCrossEntropy,
  sum,
  tensor,
  type Tensor,
} from '../../src/index.js';
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

  it('is exact for huge tied logits: (1e30, 1e30) gives ln 2, and keeps log(s) next to huge maxima', async () => {
    const x = tensor([1e30, 1e30, -1e30, -1e30, 1e30, 1e30, 1e30, 1e30], [2, 4]);
    const labels = tensor([0, 3], [2], { dtype: 'int32' });
    const loss = softmaxCrossEntropy(x, labels);
    // Row 0: two tied maxima -> ln 2; row 1: four -> ln 4.
    expectClose(await loss.data(), [(Math.LN2 + Math.log(4)) / 2], { atol: 0, rtol: 1e-6 });
    const single = softmaxCrossEntropy(tensor([3e38, 3e38], [1, 2]), tensor([1], [1], { dtype: 'int32' }));
    expectClose(await single.data(), [Math.LN2], { atol: 0, rtol: 1e-6 });
  });

  it('with ignoreIndex, ignored rows add nothing and get no gradient; the mean is over the rest', async () => {
    const x = logits([4, 3], 9);
    const labels = tensor([2, -100, 1, -100], [4], { dtype: 'int32' });
    const loss = softmaxCrossEntropy(x, labels, { ignoreIndex: -100 });
    loss.backward();
    await expectMatchesReference([loss, x.grad!], { atol: 1e-6, rtol: 1e-5 });
    const g = await x.grad!.data();
    expect(Array.from(g.slice(3, 6))).toEqual([0, 0, 0]);
    expect(Array.from(g.slice(9, 12))).toEqual([0, 0, 0]);
    const [xs, l] = [await x.data(), await loss.data()];
    const rowLoss = (r: number, c: number) =>
      Math.log(Math.exp(xs[3 * r]) + Math.exp(xs[3 * r + 1]) + Math.exp(xs[3 * r + 2])) - xs[3 * r + c];
    expect(l[0]).toBeCloseTo((rowLoss(0, 2) + rowLoss(2, 1)) / 2, 5);
  });

  it('gives NaN with zero gradient when every row is ignored, as PyTorch', async () => {
    const x = logits([2, 3], 4);
    const loss = softmaxCrossEntropy(x, tensor([5, 5], [2], { dtype: 'int32' }), { ignoreIndex: 5 });
    loss.backward();
    expect(Number.isNaN((await loss.data())[0])).toBe(true);
    expect(Array.from(await x.grad!.data())).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('refuses host labels outside [0, K) when recorded, naming the row', () => {
    const x = logits([3, 4], 5);
    expect(() => softmaxCrossEntropy(x, tensor([0, 4, 1], [3], { dtype: 'int32' }))).toThrow(
      /softmaxCrossEntropy: labels\[1\] = 4 is outside \[0, 4\) for logits with 4 classes/,
    );
    expect(() =>
      softmaxCrossEntropy(x, tensor([0, -1, 1], [3], { dtype: 'int32' }), { ignoreIndex: -100 }),
    ).toThrow(ArgumentError);
  });

  it('checks labels computed on the device there: a bad one fails the reads of its flush', async () => {
    // argmax of each row of the 6x6 identity: 0..5, int32 computed on the device.
    const eye = Array.from({ length: 36 }, (_, i) => (i % 7 === 0 ? 1 : 0));
    const indices = argmax(tensor(eye, [6, 6]), { axis: 1 });
    const loss = softmaxCrossEntropy(logits([6, 4], 6), indices);
    await expect(loss.data()).rejects.toThrow(/softmaxCrossEntropy: labels\[4\] is outside \[0, 4\)/);
    const ok = softmaxCrossEntropy(logits([6, 6], 7), indices);
    expect(Number.isFinite((await ok.data())[0])).toBe(true);
  });
});
