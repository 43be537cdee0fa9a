// No-device tests for matmul, dense, softmax and softmax cross-entropy: shape rules, exact small cases, and
// backward rules vs finite differences of the float64 reference.
import { describe, expect, it } from 'vitest';
import {
  ShapeError,
  dense,
  evaluateReference,
  matmul,
  mul,
  softmax,
  softmaxCrossEntropy,
  sum,
  tensor,
  type Tensor,
} from '../../src/index.js';
import { seeded } from '../helpers.js';

const values = (t: Tensor) => Float64Array.from(t.storage.upload!);
const leafMap = (leaves: Tensor[]) => new Map(leaves.map((l) => [l, values(l)]));
const evalRef = (out: Tensor, leaves: Tensor[]) =>
  Array.from(evaluateReference([out], leafMap(leaves))[0].data);
const f32 = (shape: number[], seed = 1, requiresGrad = false) =>
  tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    { requiresGrad },
  );
const int32 = (v: number[]) => tensor(v, [v.length], { dtype: 'int32' });

/** Checks every leaf gradient of a scalar `loss` (evaluated by the reference) against central differences. */
function expectGradientsMatchFiniteDifferences(
  loss: Tensor,
  leaves: Tensor[],
  constants: Tensor[] = [],
): void {
  loss.backward();
  const map = leafMap([...leaves, ...constants]);
  for (const leaf of leaves) {
    const analytic = evaluateReference([leaf.grad!], map)[0].data;
    const v = map.get(leaf)!;
    for (let i = 0; i < v.length; i++) {
      const orig = v[i];
      v[i] = orig + 1e-6;
      const plus = evaluateReference([loss], map)[0].data[0];
      v[i] = orig - 1e-6;
      const minus = evaluateReference([loss], map)[0].data[0];
      v[i] = orig;
      expect(analytic[i]).toBeCloseTo((plus - minus) / 2e-6, 6);
    }
  }
}

describe('shape rules', () => {
  it('gives matmul and dense output shapes, with transposes', () => {
    expect(matmul(f32([2, 3]), f32([3, 5])).shape).toEqual([2, 5]);
    expect(matmul(f32([3, 2]), f32([3, 5]), { transposeA: true }).shape).toEqual([2, 5]);
    expect(matmul(f32([2, 3]), f32([5, 3]), { transposeB: true }).shape).toEqual([2, 5]);
    expect(matmul(f32([3, 2]), f32([5, 3]), { transposeA: true, transposeB: true }).shape).toEqual([2, 5]);
    expect(dense(f32([4, 3]), f32([3, 7]), f32([7])).shape).toEqual([4, 7]);
  });

  it('names the op, the arguments and the shapes when they do not fit', () => {
    expect(() => matmul(f32([2, 3]), f32([4, 5]))).toThrow(ShapeError);
    expect(() => matmul(f32([2, 3]), f32([4, 5]))).toThrow(
      /matmul: inner dimensions differ: 'a' \[2,3\] has K=3 but 'b' \[4,5\] has K=4/,
    );
    expect(() => matmul(f32([2, 3]), f32([3, 5]), { transposeB: true })).toThrow(/transposeB=true/);
    expect(() => matmul(f32([6]), f32([6, 1]))).toThrow(/matmul: argument 'a' must have rank 2 \(\[M,K\]\)/);
    expect(() => dense(f32([4, 3]), f32([3, 7]), f32([6]))).toThrow(
      /dense: argument 'bias' must be \[U\] with U=7 matching w \[3,7\], got \[6\]/,
    );
    expect(() => dense(f32([4, 2]), f32([3, 7]))).toThrow(ShapeError);
  });

  it('checks softmax and cross-entropy arguments', () => {
    expect(softmax(f32([2, 3, 4])).shape).toEqual([2, 3, 4]);
    expect(softmaxCrossEntropy(f32([4, 3]), int32([0, 1, 2, 0])).shape).toEqual([]);
    expect(() => softmaxCrossEntropy(f32([4, 3]), f32([4]))).toThrow(
      /softmaxCrossEntropy: argument 'labels' must be int32, got float32/,
    );
    expect(() => softmaxCrossEntropy(f32([4, 3]), int32([0, 1]))).toThrow(
      /argument 'labels' must be \[N\] with N=4 matching logits \[4,3\], got \[2\]/,
    );
    expect(() => softmaxCrossEntropy(f32([12]), int32([0]))).toThrow(/argument 'logits' must have rank 2/);
    expect(() => softmax(tensor([], [2, 0]))).toThrow(/softmax: argument 'logits' must have a last axis/);
  });
});

describe('reference', () => {
  it('computes small cases exactly', () => {
    const a = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = tensor([1, 0, -1, 2, 0.5, 1], [3, 2]);
    expect(evalRef(matmul(a, b), [a, b])).toEqual([0.5, 7, 2, 16]);
    // transposeA with a itself: aᵀ·a [3,3].
    expect(evalRef(matmul(a, a, { transposeA: true }), [a])).toEqual([17, 22, 27, 22, 29, 36, 27, 36, 45]);
    const bias = tensor([10, -10], [2]);
    expect(evalRef(dense(a, b, bias), [a, b, bias])).toEqual([10.5, -3, 12, 6]);
    const x = tensor([0, 1], [1, 2]);
    const [p0, p1] = evalRef(softmax(x), [x]);
    expect(p0).toBeCloseTo(1 / (1 + Math.E), 14);
    expect(p1).toBeCloseTo(Math.E / (1 + Math.E), 14);
    const labels = int32([1]);
    expect(evalRef(softmaxCrossEntropy(x, labels), [x, labels])[0]).toBeCloseTo(Math.log(1 + Math.E) - 1, 14);
  });

  it('matmul backward rules agree with finite differences for every transpose combination', () => {
    for (const transposeA of [false, true])
      for (const transposeB of [false, true]) {
        const a = f32(transposeA ? [3, 2] : [2, 3], 1, true);
        const b = f32(transposeB ? [4, 3] : [3, 4], 2, true);
        const w = f32([2, 4], 3);
        expectGradientsMatchFiniteDifferences(
          sum(mul(matmul(a, b, { transposeA, transposeB }), w)),
          [a, b],
          [w],
        );
      }
  });

  it('dense and softmax backward rules agree with finite differences', () => {
    const x = f32([3, 4], 4, true);
    const wt = f32([4, 5], 5, true);
    const bias = f32([5], 6, true);
    const w = f32([3, 5], 7);
    expectGradientsMatchFiniteDifferences(sum(mul(softmax(dense(x, wt, bias)), w)), [x, wt, bias], [w]);
  });

  it('softmaxCrossEntropy backward agrees with finite differences, ignored rows included', () => {
    const x = f32([4, 3], 8, true);
    const labels = int32([2, 0, -100, 1]);
    expectGradientsMatchFiniteDifferences(
      softmaxCrossEntropy(x, labels, { ignoreIndex: -100 }),
      [x],
      [labels],
    );
    // An ignore index inside [0, K) skips that class's rows.
    const y = f32([4, 3], 9, true);
    const zeros = int32([2, 0, 0, 1]);
    expectGradientsMatchFiniteDifferences(softmaxCrossEntropy(y, zeros, { ignoreIndex: 0 }), [y], [zeros]);
  });
});
