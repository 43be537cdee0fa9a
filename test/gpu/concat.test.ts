// GPU numerics for concat along every axis and its slice backward vs the float64 reference.
import { describe, expect, it } from 'vitest';
import { concat, mul, sum, tensor, type Tensor } from '../../src/index.js';
import { expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const exact = { atol: 0, rtol: 0 };

function input(shape: readonly number[], seed: number, requiresGrad = true): Tensor {
  return tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    { requiresGrad },
  );
}

describe('concat', () => {
  const cases: [number[][], number][] = [
    [
      [
        [2, 3, 5, 4],
        [2, 3, 5, 7],
        [2, 3, 5, 1],
      ],
      -1,
    ],
    [
      [
        [2, 3, 5, 4],
        [2, 1, 5, 4],
      ],
      1,
    ],
    [
      [
        [1, 3],
        [4, 3],
        [2, 3],
      ],
      0,
    ],
    [
      [
        [3, 2, 5],
        [3, 3, 5],
      ],
      -2,
    ],
    [[[5], [0], [2]], 0],
    // Channel counts of an Inception module's branches: every copy in vec4 elements.
    [
      [
        [2, 3, 3, 16],
        [2, 3, 3, 24],
        [2, 3, 3, 8],
      ],
      -1,
    ],
  ];
  for (const [shapes, axis] of cases) {
    it(`${JSON.stringify(shapes)} along ${axis} with per-input gradients`, async () => {
      const xs = shapes.map((s, i) => input(s, i + 1));
      const y = concat(xs, axis);
      sum(mul(y, input(y.shape, 9, false))).backward();
      await expectMatchesReference([y, ...xs.filter((x) => x.size > 0).map((x) => x.grad!)], exact);
    });
  }

  it('covers grids past 65,535 workgroups', async () => {
    const a = input([2, 1100, 1000, 1], 3, false);
    const b = input([2, 1100, 1000, 1], 4, false);
    const y = concat([a, b], 3);
    const [got, av, bv] = await Promise.all([y.data(), a.data(), b.data()]);
    expect(got[got.length - 1]).toBe(bv[bv.length - 1]);
    expect(got[got.length - 2]).toBe(av[av.length - 1]);
  });
});
