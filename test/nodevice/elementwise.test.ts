// No-device tests for the elementwise ops: shape rules, typed errors, exact reference values, finite differences.
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DisposedError,
  ShapeError,
  add,
  evaluateReference,
  mean,
  mul,
  randn,
  relu,
  reshape,
  sub,
  sum,
  tensor,
  type Tensor,
} from '../../src/index.js';

describe('shape rules', () => {
  it('broadcasts a trailing-axis vector and a scalar, in either order', () => {
    const x = tensor(new Float32Array(24), [2, 3, 4]);
    expect(add(x, tensor([1, 2, 3, 4], [4])).shape).toEqual([2, 3, 4]);
    expect(add(tensor(new Float32Array(12), [3, 4]), x).shape).toEqual([2, 3, 4]);
    expect(mul(x, tensor([2], [])).shape).toEqual([2, 3, 4]);
  });

  it('rejects mismatched shapes naming the op and both shapes', () => {
    const x = tensor(new Float32Array(6), [2, 3]);
    expect(() => add(x, tensor([1, 2], [2]))).toThrow(ShapeError);
    expect(() => sub(x, tensor([1, 2], [2]))).toThrow(/sub: shapes 'a' \[2,3\], 'b' \[2\] do not broadcast/);
  });

  it('checks reshape sizes and axes of reductions', () => {
    const x = tensor(new Float32Array(24), [2, 3, 4]);
    expect(reshape(x, [6, -1]).shape).toEqual([6, 4]);
    expect(() => reshape(x, [5, -1])).toThrow(/reshape: cannot view \[2,3,4\]/);
    expect(sum(x, { axis: [0, 1] }).shape).toEqual([4]);
    expect(mean(x, { axis: -1, keepDims: true }).shape).toEqual([2, 3, 1]);
    expect(sum(x, { axis: [0, 2], keepDims: true }).shape).toEqual([1, 3, 1]);
    expect(() => sum(x, { axis: [0, 0] })).toThrow(/sum: argument 'axis' must be distinct axes/);
    expect(() => sum(x, { axis: 3 })).toThrow(ShapeError);
  });

  it('gives typed errors for bad tensors and seeds, then keeps working', () => {
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(ShapeError);
    expect(() => randn([2], { seed: Number.NaN })).toThrow(ArgumentError);
    expect(() => randn([2], { seed: Infinity })).toThrow(/seed must be a finite number/);
    const t = tensor([1, 2], [2]);
    t.dispose();
    expect(() => relu(t)).toThrow(DisposedError);
    expect(() => add(t, t)).toThrow(/add: argument 'a' .* was disposed/);
    expect(relu(tensor([1, -1], [2])).shape).toEqual([2]);
  });

  it('seeds give the same numbers every time', () => {
    const a = randn([5], { seed: 7 });
    const b = randn([5], { seed: 7 });
    // Without a device, leaves hold their values for upload.
    expect(a.storage.upload).toEqual(b.storage.upload);
    expect(randn([5], { seed: 8 }).storage.upload).not.toEqual(a.storage.upload);
  });
});

describe('reference', () => {
  const values = (t: Tensor) => Float64Array.from(t.storage.upload!);
  const evalRef = (out: Tensor, leaves: Tensor[]) =>
    Array.from(evaluateReference([out], new Map(leaves.map((l) => [l, values(l)])))[0].data);

  it('computes small cases exactly', () => {
    const a = tensor([1, -2, 3, -4, 5, -6], [2, 3]);
    const b = tensor([10, 20, 30], [3]);
    expect(evalRef(add(a, b), [a, b])).toEqual([11, 18, 33, 6, 25, 24]);
    expect(evalRef(sub(a, b), [a, b])).toEqual([-9, -22, -27, -14, -15, -36]);
    expect(evalRef(mul(a, b), [a, b])).toEqual([10, -40, 90, -40, 100, -180]);
    expect(evalRef(relu(a), [a])).toEqual([1, 0, 3, 0, 5, 0]);
    expect(evalRef(sum(a, { axis: 0 }), [a])).toEqual([-3, 3, -3]);
    expect(evalRef(mean(a), [a])).toEqual([-0.5]);
  });

  it('backward rules agree with finite differences of the reference', () => {
    const a = tensor([0.5, -1.5, 2, 0.25, -0.75, 1.25], [2, 3], { requiresGrad: true });
    const b = tensor([0.3, -0.7, 1.1], [3], { requiresGrad: true });
    const loss = mean(mul(relu(sub(mul(a, b), b)), add(a, b)));
    loss.backward();
    const leaves = new Map([
      [a, values(a)],
      [b, values(b)],
    ]);
    for (const leaf of [a, b]) {
      const analytic = evaluateReference([leaf.grad!], leaves)[0].data;
      const v = leaves.get(leaf)!;
      for (let i = 0; i < v.length; i++) {
        const orig = v[i];
        v[i] = orig + 1e-6;
        const plus = evaluateReference([loss], leaves)[0].data[0];
        v[i] = orig - 1e-6;
        const minus = evaluateReference([loss], leaves)[0].data[0];
        v[i] = orig;
        expect(analytic[i]).toBeCloseTo((plus - minus) / 2e-6, 6);
      }
    }
  });
});
