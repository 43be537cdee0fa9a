// No-device tests for pooling, batch norm and concat: shape rules, typed errors, exact small cases, finite differences.
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  ShapeError,
  avgPool2d,
  batchNorm,
  concat,
  evaluateReference,
  globalAvgPool,
  leavesOf,
  maxPool2d,
  mul,
  ones,
  sum,
  tensor,
  zeros,
  zoo,
  type Tensor,
} from '../../src/index.js';
import { batchNormUpdateOp } from '../../src/ops/batchnorm.js';
import { seeded } from '../helpers.js';

const values = (t: Tensor) => new Float64Array(t.storage.upload!);
/** Upload values of every leaf the outputs depend on, as float64. */
const leafValues = (outs: Tensor[]) => new Map(leavesOf(outs).map((t) => [t, values(t)]));
const ref = (out: Tensor) => Array.from(evaluateReference([out], leafValues([out]))[0].data);

describe('pooling shape rules', () => {
  const x = tensor(new Float32Array(2 * 7 * 5 * 3), [2, 7, 5, 3]);
  it('follows TensorFlow for valid and same', () => {
    expect(maxPool2d(x, { size: 2 }).shape).toEqual([2, 3, 2, 3]);
    expect(maxPool2d(x, { size: 3, stride: 2, padding: 'same' }).shape).toEqual([2, 4, 3, 3]);
    expect(avgPool2d(x, { size: [2, 4], stride: 1, padding: 'same' }).shape).toEqual([2, 7, 5, 3]);
    expect(avgPool2d(x, { size: [3, 1], stride: [2, 1] }).shape).toEqual([2, 3, 5, 3]);
    expect(globalAvgPool(x).shape).toEqual([2, 3]);
  });
  it('throws typed errors naming the op and argument', () => {
    expect(() => maxPool2d(tensor([1, 2], [2]), { size: 2 })).toThrow(
      /maxPool2d: argument 'x' must have rank 4 \(NHWC\)/,
    );
    expect(() => maxPool2d(x, { size: 6 })).toThrow(ShapeError);
    expect(() => avgPool2d(x, { size: 0 })).toThrow(/avgPool2d: argument 'size'/);
    expect(() => avgPool2d(x, { size: 2, stride: [1, 2, 3] as unknown as [number, number] })).toThrow(
      ArgumentError,
    );
    expect(() => maxPool2d(x, { size: 2, padding: 'full' as 'same' })).toThrow(
      /argument 'padding' must be 'same' or 'valid'/,
    );
    expect(() => globalAvgPool(tensor([1, 2, 3], [3]))).toThrow(ShapeError);
  });
});

describe('pooling exact values', () => {
  // 1x4x4x1 image 0..15; 'same' 3x3 stride 2: pad 0 top/left, 1 bottom/right (odd pixel bottom/right).
  const x = tensor(
    Float32Array.from({ length: 16 }, (_, i) => i),
    [1, 4, 4, 1],
  );
  it('max pool ignores padding and saves the argmax', () => {
    const y = maxPool2d(x, { size: 3, stride: 2, padding: 'same' });
    const [out, argmax] = evaluateReference([y, y.node!.outputs[1]], leafValues([y]));
    expect(Array.from(out.data)).toEqual([10, 11, 14, 15]);
    expect(Array.from(argmax.data)).toEqual([10, 11, 14, 15]);
  });
  it('average pool divides by the in-bounds taps', () => {
    const y = avgPool2d(x, { size: 3, stride: 2, padding: 'same' });
    // Window (0,0): rows 0-2, cols 0-2 → mean 5; (0,1): rows 0-2, cols 2-3 → (2+3+6+7+10+11)/6 = 6.5.
    expect(ref(y)).toEqual([5, 6.5, 11, 12.5]);
  });
  it('ties go to the first tap', () => {
    const t = tensor([1, 1, 1, 1], [1, 2, 2, 1]);
    const y = maxPool2d(t, { size: 2 });
    expect(Array.from(evaluateReference([y.node!.outputs[1]], leafValues([y]))[0].data)).toEqual([0]);
  });
});

/** Central differences of sum(f(x) * w) through the float64 reference, against the reference backward. */
function checkGradient(build: (x: Tensor) => Tensor, x: Tensor): void {
  x.requiresGrad = true;
  const y = build(x);
  const w = tensor(seeded(y.size, 77), y.shape);
  const loss = sum(mul(y, w));
  loss.backward();
  const leaves = leafValues([loss, x.grad!]);
  const analytic = evaluateReference([x.grad!], leaves)[0].data;
  const base = leaves.get(x)!;
  const eps = 1e-6;
  for (let i = 0; i < base.length; i++) {
    const orig = base[i];
    base[i] = orig + eps;
    const plus = evaluateReference([loss], leaves)[0].data[0];
    base[i] = orig - eps;
    const minus = evaluateReference([loss], leaves)[0].data[0];
    base[i] = orig;
    expect(Math.abs(analytic[i] - (plus - minus) / (2 * eps))).toBeLessThan(1e-6);
  }
}

describe('reference backward vs finite differences', () => {
  it('max pool (distinct values, so the argmax is stable under the step)', () => {
    checkGradient(
      (x) => maxPool2d(x, { size: [2, 3], stride: 2, padding: 'same' }),
      tensor(seeded(2 * 5 * 4 * 3, 3), [2, 5, 4, 3]),
    );
  });
  it('average pool with same padding and an even window', () => {
    checkGradient(
      (x) => avgPool2d(x, { size: 2, stride: 1, padding: 'same' }),
      tensor(seeded(1 * 3 * 5 * 2, 4), [1, 3, 5, 2]),
    );
  });
  it('batch norm in training mode, through gamma and beta too', () => {
    const gamma = tensor(seeded(3, 5), [3], { requiresGrad: true });
    const beta = tensor(seeded(3, 6), [3], { requiresGrad: true });
    const rm = zeros([3]);
    const rv = ones([3]);
    const build = (x: Tensor) =>
      batchNorm(x, { gamma, beta, runningMean: rm, runningVar: rv, training: true });
    checkGradient(build, tensor(seeded(2 * 2 * 3 * 3, 7), [2, 2, 3, 3]));
  });
  it('batch norm in inference mode', () => {
    const gamma = tensor(seeded(4, 8), [4]);
    const build = (x: Tensor) =>
      batchNorm(x, {
        gamma,
        beta: zeros([4]),
        runningMean: zeros([4]),
        runningVar: ones([4]),
        training: false,
      });
    checkGradient(build, tensor(seeded(12, 9), [3, 4]));
  });
  it('concat', () => {
    const b = tensor(seeded(6, 10), [2, 3]);
    checkGradient((a) => concat([b, a, b], -1), tensor(seeded(4, 11), [2, 2]));
  });
});

describe('batch norm and concat rules', () => {
  const x = tensor(new Float32Array(2 * 3 * 4), [2, 3, 4]);
  const c4 = () => zeros([4]);
  it('checks per-channel shapes and options', () => {
    const opts = { gamma: c4(), beta: c4(), runningMean: c4(), runningVar: ones([4]), training: true };
    expect(batchNorm(x, opts).shape).toEqual([2, 3, 4]);
    expect(() => batchNorm(x, { ...opts, gamma: zeros([3]) })).toThrow(
      /batchNorm: argument 'gamma' must be \[C\] with C=4 matching x \[2,3,4\], got \[3\]/,
    );
    expect(() => batchNorm(tensor([1], [1]), opts)).toThrow(ShapeError);
    expect(() => batchNorm(x, { ...opts, momentum: 2 })).toThrow(ArgumentError);
    expect(() => batchNorm(x, { ...opts, epsilon: 0 })).toThrow(/argument 'epsilon'/);
    expect(() => batchNorm(x, { ...opts, runningMean: mul(c4(), c4()) })).toThrow(/overwritten in place/);
  });
  it('updates running averages in the reference the Keras way (biased variance)', () => {
    const v = tensor([1, 2, 3, 5], [4, 1]);
    const rm = zeros([1]);
    const rv = ones([1]);
    const y = batchNorm(v, {
      gamma: ones([1]),
      beta: zeros([1]),
      runningMean: rm,
      runningVar: rv,
      training: true,
      momentum: 0.5,
    });
    const [, mean, variance] = y.node!.outputs;
    const [m, s2] = evaluateReference([mean, variance], leafValues([mean, variance]));
    expect(m.data[0]).toBeCloseTo(2.75, 12);
    expect(s2.data[0]).toBeCloseTo(2.1875, 12);
    // The update's reference: the biased variance as it is (Keras 3), or times rows / (rows - 1) (PyTorch).
    const update = (varianceScale: number) =>
      batchNormUpdateOp.reference!(
        [0, 1, 2.75, 2.1875].map((v) => ({ shape: [1], data: Float64Array.of(v) })),
        { momentum: 0.5, varianceScale },
      ).map((t) => t.data[0]);
    expect(update(1)).toEqual([1.375, 0.5 + 0.5 * 2.1875]);
    const [runningMean, runningVar] = update(4 / 3);
    expect(runningMean).toBe(1.375);
    expect(runningVar).toBeCloseTo(0.5 + 0.5 * (35 / 12), 12);
  });
  it("checks runningVarCorrection, and refuses one value per channel with PyTorch's", () => {
    const opts = (c: number, extra = {}) => ({
      gamma: ones([c]),
      beta: zeros([c]),
      runningMean: zeros([c]),
      runningVar: ones([c]),
      training: true,
      ...extra,
    });
    const unbiased = { runningVarCorrection: 1 };
    for (const shape of [
      [1, 4],
      [1, 1, 1, 4],
    ]) {
      const one = tensor(new Float32Array(4), shape);
      expect(() => batchNorm(one, opts(4, unbiased))).toThrow(ShapeError);
      expect(() => batchNorm(one, opts(4, unbiased))).toThrow(
        new RegExp(
          `batchNorm: argument 'x' \\[${shape.join(',')}\\] has 1 value per channel: expected more than 1`,
        ),
      );
      // Keras's biased convention takes one value (its variance is 0), and inference never updates.
      expect(batchNorm(one, opts(4)).shape).toEqual(shape);
      expect(batchNorm(one, opts(4, { ...unbiased, training: false })).shape).toEqual(shape);
    }
    expect(batchNorm(tensor(new Float32Array(8), [2, 4]), opts(4, unbiased)).shape).toEqual([2, 4]);
    expect(() =>
      batchNorm(tensor(new Float32Array(8), [2, 4]), opts(4, { runningVarCorrection: 2 })),
    ).toThrow(/has 2 values per channel: expected more than 2/);
    for (const bad of [-1, NaN, Infinity, '1']) {
      expect(() => batchNorm(x, opts(4, { runningVarCorrection: bad }))).toThrow(
        /batchNorm: argument 'runningVarCorrection' must be a finite number >= 0/,
      );
    }
    const bn = new zoo.TorchBatchNorm2d(3, 1e-5);
    const one = tensor(new Float32Array(3), [1, 1, 1, 3]);
    expect(() => bn.forward(one)).toThrow(ShapeError);
    bn.eval();
    expect(bn.forward(one).shape).toEqual([1, 1, 1, 3]);
  });
  it('concat checks shapes and axes', () => {
    const a = tensor(new Float32Array(6), [2, 3]);
    const b = tensor(new Float32Array(4), [2, 2]);
    expect(concat([a, b], -1).shape).toEqual([2, 5]);
    expect(concat([a, a], 0).shape).toEqual([4, 3]);
    expect(() => concat([a, b], 0)).toThrow(
      /concat: argument 'tensors\[1\]' \[2,2\] must match tensors\[0\] \[2,3\] on every axis but 0/,
    );
    expect(() => concat([a, b], 2)).toThrow(/concat: argument 'axis' must be an integer in \[-2, 2\), got 2/);
    expect(() => concat([], 0)).toThrow(ShapeError);
    expect(Array.from(evaluateReference([concat([a, b], 1)], leafValues([a, b]))[0].data)).toHaveLength(10);
  });
});
