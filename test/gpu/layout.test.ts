// GPU numerics of the layout ops (transpose, slice with steps, pad constant/reflect, gather, stack, split,
// expandDims/squeeze) vs the float64 reference, their gradients by finite differences, and their shape errors.
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  expandDims,
  gather,
  gradcheck,
  indexSelect,
  mul,
  pad,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  tensor,
  transpose,
  type Tensor,
} from '../../src/index.js';
import { expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const exact = { atol: 0, rtol: 0 };

const input = (shape: number[], seed: number): Tensor =>
  tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
const ints = (values: number[], shape = [values.length]) => tensor(values, shape, { dtype: 'int32' });

describe('layout ops vs the reference', () => {
  it('transpose (vec4 and scalar paths, default reversed axes)', async () => {
    const x = input([2, 3, 4, 8], 1);
    await expectMatchesReference(
      [transpose(x, [0, 2, 1, 3]), transpose(x, [3, 1, 0, 2]), transpose(x)],
      exact,
    );
    expect(transpose(x, [0, 2, 1, 3]).shape).toEqual([2, 4, 3, 8]);
  });

  it('slice with begin, size and steps (negative too)', async () => {
    const x = input([5, 6, 7], 2);
    const outs = [
      slice(x, [1, 0, 2], [3, -1, 4]),
      slice(x, [0, 1], [-1, -1], { step: [2, 2] }),
      slice(x, [4, 5, 6], [-1, -1, -1], { step: [-1, -2, -3] }),
      slice(x, 2),
    ];
    await expectMatchesReference(outs, exact);
    expect(outs.map((t) => t.shape)).toEqual([
      [3, 6, 4],
      [3, 3, 7],
      [5, 3, 3],
      [3, 6, 7],
    ]);
    const v = tensor([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(await slice(v, 6, -1, { step: -3 }).data())).toEqual([6, 3, 0]);
  });

  it('pad constant and reflect', async () => {
    const x = input([2, 3, 4], 3);
    const outs = [
      pad(x, [
        [0, 1],
        [2, 0],
        [1, 3],
      ]),
      pad(
        x,
        [
          [1, 1],
          [0, 0],
          [0, 0],
        ],
        { value: -2.5 },
      ),
      pad(
        x,
        [
          [0, 0],
          [2, 1],
          [3, 2],
        ],
        { mode: 'reflect' },
      ),
    ];
    await expectMatchesReference(outs, exact);
    const v = tensor([1, 2, 3, 4]);
    expect(Array.from(await pad(v, [[2, 3]], { mode: 'reflect' }).data())).toEqual([
      3, 2, 1, 2, 3, 4, 3, 2, 1,
    ]);
  });

  it('gather along any axis, stack, split, expandDims and squeeze', async () => {
    const x = input([4, 5, 3], 4);
    const idx = ints([3, 0, 3, 1, 2, 4], [2, 3]);
    const g = gather(x, idx, { axis: 1 });
    expect(g.shape).toEqual([4, 2, 3, 3]);
    const parts = split(x, [1, -1, 2], 1);
    const outs = [
      g,
      gather(x, ints([2, 2]), {}),
      indexSelect(x, -1, ints([2, 0])),
      stack([x, x], 1),
      ...parts,
    ];
    await expectMatchesReference(outs, exact);
    expect(parts.map((p) => p.shape)).toEqual([
      [4, 1, 3],
      [4, 2, 3],
      [4, 2, 3],
    ]);
    expect(split(x, 2, 0).map((p) => p.shape[0])).toEqual([2, 2]);
    expect(expandDims(x, -1).shape).toEqual([4, 5, 3, 1]);
    expect(squeeze(reshape(x, [1, 4, 1, 5, 3])).shape).toEqual([4, 5, 3]);
  });

  it('gather reports an out-of-range index computed on the device when read', async () => {
    const x = input([3, 2], 5);
    await expect(gather(x, ints([0, 3])).data()).rejects.toThrow(ArgumentError);
    await expect(gather(x, ints([0, 3])).data()).rejects.toThrow(/gather: indices\[1\] is outside \[0, 3\)/);
    expect(Array.from(await gather(x, ints([2])).data()).length).toBe(2);
  });

  it('refuses bad arguments with typed errors naming op and argument', () => {
    const x = input([2, 3], 6);
    expect(() => transpose(x, [0, 0])).toThrow(/transpose: argument 'perm' must be a permutation/);
    expect(() => slice(x, [0, 3])).toThrow(/slice: 'begin' 3 is outside axis 1/);
    expect(() => slice(x, [0, 0], [3, 1])).toThrow(/slice: 'size' 3 on axis 0/);
    expect(() => slice(x, 0, -1, { step: 0 })).toThrow(/slice: 'step' must not be 0/);
    expect(() => pad(x, [[1, 1]])).toThrow(/pad: argument 'paddings' must be 2 pairs/);
    expect(() =>
      pad(
        x,
        [
          [2, 0],
          [0, 0],
        ],
        { mode: 'reflect' },
      ),
    ).toThrow(/pad: reflect padding \[2, 0\] on axis 0 must be < its size 2/);
    expect(() =>
      pad(
        x,
        [
          [0, 0],
          [0, 0],
        ],
        { mode: 'wrap' as 'reflect' },
      ),
    ).toThrow(ArgumentError);
    expect(() => gather(x, input([2], 1))).toThrow(/gather: argument 'indices' must be int32/);
    expect(() => split(x, 4, 1)).toThrow(/split: 4 pieces do not divide axis 1/);
    expect(() => stack([x, input([3, 2], 1)])).toThrow(/stack: tensors\[1\] \[3,2\] differs/);
    expect(() => squeeze(x, 0)).toThrow(/squeeze: axis 0 of \[2,3\] has length 2/);
    expect(() => reshape(x, null as unknown as number[])).toThrow(
      /reshape: argument 'shape' must be an array/,
    );
  });
});

describe('layout gradients against finite differences', () => {
  const w = (shape: readonly number[]) => input([...shape], 42);
  const cases: [string, number[], (x: Tensor) => Tensor][] = [
    ['transpose', [2, 3, 4], (x) => transpose(x, [2, 0, 1])],
    ['slice steps', [5, 6], (x) => slice(x, [4, 1], [-1, 2], { step: [-2, 3] })],
    [
      'pad constant',
      [3, 4],
      (x) =>
        pad(
          x,
          [
            [1, 2],
            [0, 3],
          ],
          { value: 1 },
        ),
    ],
    [
      'pad reflect',
      [3, 4],
      (x) =>
        pad(
          x,
          [
            [2, 1],
            [1, 3],
          ],
          { mode: 'reflect' },
        ),
    ],
    ['gather repeated indices', [4, 3], (x) => gather(x, ints([1, 3, 1, 1]), { axis: 0 })],
    ['split + stack', [4, 6], (x) => stack(split(x, 3, 1), 0)],
    // Pieces no gradient reaches (one of them empty) get zeros in split's concat gradient.
    ['split, one piece used', [4, 6], (x) => split(x, [2, 0, -1], 1)[2]],
  ];
  for (const [name, shape, f] of cases) {
    it(name, async () => {
      const result = await gradcheck((x) => mul(f(x), w(f(x).shape)), [input(shape, 7)]);
      expect(result.mismatches).toEqual([]);
    });
  }
});
