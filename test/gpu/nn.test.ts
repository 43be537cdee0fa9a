// Layers, blocks and models: shapes, parameter counts, state dicts, reference gradients, overfitting a batch.
import { describe, expect, it } from 'vitest';
import { Adam, ArgumentError, fit, mean, randn, softmaxCrossEntropy, tensor, tidy } from '../../src/index.js';
import {
  BatchNorm2d,
  Conv2d,
  Dense,
  InceptionBlock,
  ResidualBlock,
  inception,
  resnet,
} from '../../src/nn/index.js';
import { expectMatchesReference, useGpu } from '../helpers.js';

useGpu();

describe('layers', () => {
  it('have the documented parameter shapes and counts', () => {
    const conv = new Conv2d(3, 8, 5, { seed: 1 });
    expect(conv.weight.shape).toEqual([5, 5, 3, 8]);
    expect(conv.parameterCount()).toBe(5 * 5 * 3 * 8 + 8);
    expect(new Conv2d(3, 8, 3, { bias: false }).parameterCount()).toBe(3 * 3 * 3 * 8);
    expect(new Dense(10, 4).parameterCount()).toBe(44);
    const bn = new BatchNorm2d(6);
    expect(Object.keys(bn.stateDict()).sort()).toEqual(['beta', 'gamma', 'runningMean', 'runningVar']);
    expect(bn.parameters().length).toBe(2);
  });

  it('residual blocks project only when the shape changes', () => {
    expect(new ResidualBlock(8, 8).projection).toBeNull();
    const down = new ResidualBlock(8, 16, { stride: 2 });
    expect(down.projection).not.toBeNull();
    const y = down.forward(randn([2, 9, 7, 8], { seed: 2 }));
    expect(y.shape).toEqual([2, 5, 4, 16]);
  });

  it('inception modules concatenate their branches along channels', () => {
    const block = new InceptionBlock(6, { b1: 3, b3Reduce: 2, b3: 5, b5Reduce: 1, b5: 2, poolProj: 3 });
    expect(block.forward(randn([1, 7, 6, 6], { seed: 3 })).shape).toEqual([1, 7, 6, 13]);
  });

  it('models give logits per class and count their parameters', () => {
    const r = resnet({ widths: [16, 32, 64] });
    expect(r.forward(randn([2, 28, 28, 1], { seed: 4 })).shape).toEqual([2, 10]);
    // stem 3x3x1x16 + BN; block 16→16: 2 convs + 2 BN; block 16→32 s2: 2 convs + proj; 32→64 likewise; head.
    const convBn = (k: number, i: number, o: number) => k * k * i * o + 4 * o;
    const expected =
      convBn(3, 1, 16) +
      2 * convBn(3, 16, 16) +
      convBn(3, 16, 32) +
      convBn(3, 32, 32) +
      convBn(1, 16, 32) +
      convBn(3, 32, 64) +
      convBn(3, 64, 64) +
      convBn(1, 32, 64) +
      64 * 10 +
      10;
    const buffers = Object.entries(r.stateDict())
      .filter(([n]) => n.endsWith('runningMean') || n.endsWith('runningVar'))
      .reduce((n, [, t]) => n + t.size, 0);
    expect(r.parameterCount() + buffers).toBe(expected);
    expect(inception().forward(randn([2, 28, 28, 1], { seed: 5 })).shape).toEqual([2, 10]);
  });
});

describe('blocks against the float64 reference', () => {
  const tol = { atol: 2e-4, rtol: 2e-3 };

  it('a residual block with projection matches in output and every parameter gradient', async () => {
    const block = new ResidualBlock(5, 6, { stride: 2, seed: 7 });
    const x = randn([3, 7, 6, 5], { seed: 8 });
    const y = block.forward(x);
    mean(y).backward();
    const grads = block.parameters().map((p) => p.grad!);
    expect(grads.length).toBe(9);
    await expectMatchesReference([y, ...grads], tol, 'residual block');
  });

  it('an Inception module matches in output and every parameter gradient', async () => {
    const block = new InceptionBlock(
      5,
      { b1: 3, b3Reduce: 2, b3: 4, b5Reduce: 2, b5: 3, poolProj: 2 },
      { seed: 9 },
    );
    const x = randn([2, 6, 5, 5], { seed: 10 });
    const y = block.forward(x);
    mean(y).backward();
    const grads = block.parameters().map((p) => p.grad!);
    expect(grads.length).toBe(18);
    await expectMatchesReference([y, ...grads], tol, 'inception module');
  });
});

describe('training', () => {
  it('a tiny ResNet overfits a small batch to near-zero loss', async () => {
    const model = resnet({ inputShape: [8, 8, 1], widths: [8], blocks: [1], classes: 3, seed: 1 });
    const x = randn([12, 8, 8, 1], { seed: 11 });
    const y = tensor(
      Array.from({ length: 12 }, (_, i) => i % 3),
      [12],
      { dtype: 'int32' },
    );
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    let last = Infinity;
    for (let i = 0; i < 80; i++) {
      const loss = tidy(() => {
        const l = softmaxCrossEntropy(model.forward(x), y);
        l.backward();
        return l;
      });
      opt.step();
      opt.zeroGrad();
      last = await loss.item();
      loss.dispose();
    }
    expect(last).toBeLessThan(0.05);
  });
});

describe('freezing', () => {
  it('freeze({ except }) keeps the named sub-modules trainable and refuses unknown names', () => {
    const model = resnet({ inputShape: [8, 8, 1], widths: [4, 8], blocks: [1, 1], classes: 3, seed: 2 });
    model.freeze({ except: ['head', 'trunk.2'] });
    const trainable = model
      .namedParameters()
      .filter(([, t]) => t.requiresGrad)
      .map(([n]) => n);
    expect(trainable.length).toBeGreaterThan(2);
    expect(trainable.every((n) => n.startsWith('head.') || n.startsWith('trunk.2.'))).toBe(true);
    expect(model.trunk.layers[0].frozen).toBe(true);
    expect(model.head.frozen).toBe(false);
    expect(() => model.freeze({ except: ['trunk.9'] })).toThrow(ArgumentError);
    expect(() => model.freeze({ except: ['trunk.9'] })).toThrow(/freeze: argument 'except' names 'trunk.9'/);
  });

  it('a frozen trunk does not change in fit: its batch norms use and keep their running statistics', async () => {
    const model = resnet({ inputShape: [8, 8, 1], widths: [4], blocks: [1], classes: 3, seed: 3 });
    model.trunk.freeze();
    const before = await Promise.all(Object.values(model.trunk.stateDict()).map((t) => t.data()));
    const x = randn([6, 8, 8, 1], { seed: 12 });
    model.eval();
    const evalFeatures = await model.features(x).data();
    model.train();
    const trainFeatures = await model.features(x).data();
    expect(trainFeatures).toEqual(evalFeatures);
    const images = await x.data();
    const data = {
      images,
      labels: Int32Array.from({ length: 6 }, (_, i) => i % 3),
      shape: [8, 8, 1] as [number, number, number],
      classes: ['a', 'b', 'c'],
      length: 6,
    };
    await fit(model, data, {
      epochs: 2,
      batchSize: 3,
      optimizer: new Adam(model.parameters(), { lr: 0.01 }),
    });
    const after = await Promise.all(Object.values(model.trunk.stateDict()).map((t) => t.data()));
    after.forEach((a, i) => expect(a).toEqual(before[i]));
  });
});
