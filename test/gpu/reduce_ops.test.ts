// GPU numerics of the reductions over any axes (sum, mean, max, min with keepDims; argmax, argmin) and
// broadcastTo vs the float64 reference, long axes (two passes), NaN and ties, and their gradients.
import { describe, expect, it } from 'vitest';
import {
  argmax,
  argmin,
  broadcastTo,
  gradcheck,
  max,
  mean,
  min,
  mul,
  sum,
  tensor,
  type Tensor,
} from '../../src/index.js';
import { expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const tol = { atol: 1e-4, rtol: 1e-4 };

const input = (shape: number[], seed: number): Tensor =>
  tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

describe('reductions over any axes', () => {
  const cases: [number[], number | number[] | undefined][] = [
    [[9], undefined],
    [
      [4, 5, 6],
      [0, 2],
    ],
    [[4, 5, 6], [1]],
    [
      [2, 3, 4, 5],
      [0, 1, 3],
    ],
    [
      [2, 3, 4, 5],
      [-1, -3],
    ],
    [[3, 1000, 2], [1]],
    [[70_001], 0],
    [[5, 7], []],
  ];
  for (const [shape, axis] of cases) {
    it(`sum, mean, max, min of ${JSON.stringify(shape)} over ${JSON.stringify(axis)}`, async () => {
      const x = input(shape, 1);
      const outs = [sum, mean, max, min].flatMap((f) => [f(x, { axis }), f(x, { axis, keepDims: true })]);
      await expectMatchesReference(outs, tol);
      expect(sum(x, { axis, keepDims: true }).rank).toBe(shape.length);
    });
  }

  it('max and min propagate NaN; sum of an empty axis is 0', async () => {
    const x = tensor([1, NaN, 3, 4, 5, 6], [2, 3]);
    expect(Array.from(await max(x, { axis: 1 }).data())).toEqual([NaN, 6]);
    expect(Array.from(await min(x, { axis: 0 }).data())).toEqual([1, NaN, 3]);
    expect(Array.from(await sum(tensor([], [2, 0]), { axis: 1 }).data())).toEqual([0, 0]);
    expect(() => max(tensor([], [2, 0]), { axis: 1 })).toThrow(/max: cannot reduce an empty axis/);
    expect(() => sum(x, { axis: [1, 1] })).toThrow(/sum: argument 'axis' must be distinct axes/);
    expect(() => sum(x, { axis: 2 })).toThrow(/sum: argument 'axis'/);
  });
});

describe('argmax and argmin', () => {
  for (const [shape, axis] of [
    [[5, 7], 1],
    [[5, 7], 0],
    [[2, 3, 4], -2],
    [[70_001], 0],
    [[3, 70_001], 1],
  ] as [number[], number][]) {
    it(`${JSON.stringify(shape)} along ${axis}`, async () => {
      const x = input(shape, 2);
      const outs = [argmax(x, { axis }), argmin(x, { axis })];
      expect(outs[0].dtype).toBe('int32');
      await expectMatchesReference(outs, { atol: 0, rtol: 0 });
    });
  }

  it('returns the first index on ties and a NaN’s index, as PyTorch', async () => {
    const x = tensor([1, 3, 3, 0, 2, NaN, 5, NaN], [2, 4]);
    expect(Array.from(await argmax(x, { axis: 1 }).int32Data())).toEqual([1, 1]);
    expect(Array.from(await argmin(x, { axis: 1 }).int32Data())).toEqual([3, 1]);
    expect(Array.from(await argmax(x).int32Data())).toEqual([1, 1, 1, 1]);
    expect(() => argmax(x, { axis: [0, 1] as unknown as number })).toThrow(
      /argmax: argument 'axis' must be one number/,
    );
  });
});

describe('broadcastTo and gradients', () => {
  it('broadcastTo matches the reference', async () => {
    await expectMatchesReference(
      [broadcastTo(input([3, 1, 4], 3), [2, 3, 5, 4]), broadcastTo(input([], 4), [6])],
      tol,
    );
    expect(() => broadcastTo(input([3, 2], 5), [3, 4])).toThrow(
      /broadcastTo: cannot broadcast \[3,2\] to \[3,4\]/,
    );
  });

  for (const [name, f] of [
    ['sum', (x: Tensor) => sum(x, { axis: [0, 2] })],
    ['mean keepDims', (x: Tensor) => mean(x, { axis: [1, 2], keepDims: true })],
    ['max', (x: Tensor) => max(x, { axis: [0, 2] })],
    ['min', (x: Tensor) => min(x, { axis: 1, keepDims: true })],
    ['broadcastTo', (x: Tensor) => mul(broadcastTo(x, [2, 3, 4, 5]), input([2, 3, 4, 5], 9))],
  ] as [string, (x: Tensor) => Tensor][]) {
    it(`gradient of ${name}`, async () => {
      const result = await gradcheck(f, [input([3, 4, 5], 6)]);
      expect(result.mismatches).toEqual([]);
    });
  }
});
