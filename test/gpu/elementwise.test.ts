// GPU numerics for the elementwise ops and reductions vs the float64 reference, on edge-case sizes.
import { describe, expect, it } from 'vitest';
import {
  add,
  flush,
  mean,
  mul,
  relu,
  reshape,
  scale,
  stats,
  sub,
  sum,
  tensor,
  tidy,
  type Tensor,
} from '../../src/index.js';
import { expectClose, expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const tol = { atol: 1e-5, rtol: 1e-5 };

function input(shape: number[], seed: number, requiresGrad = false): Tensor {
  return tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    { requiresGrad },
  );
}

describe('binary ops', () => {
  for (const [a, b] of [
    [[7], [7]],
    [[3, 5, 7], [7]],
    [
      [2, 3],
      [3, 2, 3],
    ],
    [[5, 1, 3], []],
    [[1], [4, 3]],
    // Multiples of 4 take the vec4 path: equal shapes, a repeated vector, a repeated block.
    [
      [6, 4],
      [6, 4],
    ],
    [[3, 5, 8], [8]],
    [[12], [2, 3, 12]],
  ]) {
    it(`add, sub, mul ${JSON.stringify(a)} with ${JSON.stringify(b)}`, async () => {
      const x = input(a, 1);
      const y = input(b, 2);
      await expectMatchesReference([add(x, y), sub(x, y), mul(x, y)], tol);
    });
  }

  // 64 invocations per workgroup; the flat kernel (equal shapes) computes 4 scalars each, a broadcast one 1.
  for (const [label, n, yShape] of [
    ['a broadcast operand', 70_000 * 64 + 5, [1]],
    ['equal shapes', 70_000 * 64 * 4 + 5, null],
  ] as const) {
    it(`covers grids past 65,535 workgroups (${label})`, async () => {
      const x = input([n], 3);
      const y = input(yShape ? [...yShape] : [n], 4);
      const out = add(x, y);
      const [got, xs, ys] = await Promise.all([out.data(), x.data(), y.data()]);
      const at = (i: number) => Math.fround(xs[i] + ys[yShape ? 0 : i]);
      for (const i of [0, 66_000 * 64, 66_000 * 64 * 4 + 3, n - 1].filter((i) => i < n))
        expect(got[i]).toBe(at(i));
    });
  }
});

describe('unary ops and reductions', () => {
  for (const shape of [
    [3, 17],
    [3, 16],
  ]) {
    it(`relu and scale ${JSON.stringify(shape)}`, async () => {
      const x = input(shape, 5);
      await expectMatchesReference([relu(x), scale(x, -2.5)], tol);
    });
  }

  for (const shape of [[1], [9], [4, 300], [3, 1000, 2], [70_001]]) {
    it(`sum and mean over every axis group of ${JSON.stringify(shape)}`, async () => {
      const x = input(shape, 6);
      const outs = [sum(x), mean(x), sum(x, { axis: 0 }), mean(x, { axis: -1, keepDims: true })];
      await expectMatchesReference(outs, { atol: 1e-4, rtol: 1e-4 });
    });
  }
});

describe('backward', () => {
  it('matches the reference passes and accumulates at fan-in', async () => {
    const a = input([4, 6], 7, true);
    const b = input([6], 8, true);
    // a is used three times and b twice: fan-in on both.
    const h = relu(add(mul(a, b), a));
    const loss = mean(sub(mul(h, a), reshape(b, [1, 6])));
    loss.backward();
    await expectMatchesReference([loss, a.grad!, b.grad!], tol);
    // d/da of mean(a * relu(a*b + a)) against a hand-derived formula.
    const [av, bv, ga] = await Promise.all([a.data(), b.data(), a.grad!.data()]);
    const expected = Array.from(av, (x, i) => {
      const y = bv[i % 6];
      const pre = x * y + x;
      return pre > 0 ? (pre + x * (y + 1)) / 24 : 0;
    });
    expectClose(ga, expected, { atol: 1e-6, rtol: 1e-5 });
  });

  it('schedules no kernels for branches without trainable leaves', async () => {
    const frozen = input([64], 9);
    const w = input([64], 10, true);
    flush();
    const before = stats().dispatches;
    const loss = sum(mul(relu(scale(frozen, 2)), w));
    loss.backward();
    await w.grad!.data();
    // Forward: scale, relu, mul, sum (one pass) = 4; backward: fill, broadcast, mul = 3; none for `frozen`.
    expect(stats().dispatches - before).toBe(7);
    expect(frozen.grad).toBeNull();
  });

  it('keeps gradients of leaves across tidy', async () => {
    const w = input([5], 11, true);
    tidy(() => mean(mul(w, w)).backward());
    expectClose(
      await w.grad!.data(),
      Array.from(await w.data(), (v) => (2 * v) / 5),
      tol,
    );
  });
});
