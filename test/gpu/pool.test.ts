// GPU numerics for max/avg pooling and their gather backward passes vs the float64 reference, on edge shapes.
import { describe, expect, it } from 'vitest';
import {
  avgPool2d,
  explain,
  globalAvgPool,
  gradcheck,
  maxPool2d,
  mul,
  noGrad,
  sum,
  tensor,
  tidy,
  type PoolOptions,
  type Tensor,
} from '../../src/index.js';
import { expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const tol = { atol: 1e-6, rtol: 1e-5 };

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

/** Forward output, argmax and both gradients: all four compared with the reference graph. */
async function checkPool(shape: number[], options: PoolOptions, seed: number): Promise<void> {
  const x = input(shape, seed);
  const y = maxPool2d(x, options);
  // Output 1 of the forward node is the saved argmax.
  const argmax = y.node!.outputs[1];
  const weights = input(y.shape, seed + 1, false);
  sum(mul(y, weights)).backward();
  const avg = avgPool2d(x, options);
  const dAvg = input(avg.shape, seed + 2, false);
  const xa = input(shape, seed, true);
  sum(mul(avgPool2d(xa, options), dAvg)).backward();
  await expectMatchesReference([y, argmax, x.grad!, avg, xa.grad!], tol, JSON.stringify({ shape, options }));
}

describe('maxPool2d and avgPool2d', () => {
  const cases: [number[], PoolOptions][] = [
    [[1, 5, 7, 3], { size: 2 }],
    [[3, 7, 5, 4], { size: 3, stride: 2, padding: 'same' }],
    [[2, 9, 9, 5], { size: 3, stride: 2, padding: 'same' }],
    [[2, 6, 8, 8], { size: 2, stride: 1, padding: 'same' }],
    [[1, 8, 6, 6], { size: [2, 4], stride: [2, 1], padding: 'same' }],
    [[1, 11, 10, 7], { size: 3, stride: 3, padding: 'valid' }],
    [[2, 4, 4, 2], { size: 1, stride: 3 }],
    [[1, 10, 10, 12], { size: 4, stride: 2, padding: 'same' }],
    // PyTorch's explicit padding and ceil mode (torchvision's ResNet stem pool, GoogLeNet's pools).
    [[2, 9, 9, 4], { size: 3, stride: 2, padding: 1 }],
    [[1, 10, 7, 5], { size: 3, stride: 2, ceilMode: true }],
    [[2, 7, 7, 8], { size: 2, stride: 2, ceilMode: true }],
    [[1, 13, 11, 3], { size: 3, stride: 2, padding: 1, ceilMode: true }],
    [
      [1, 8, 6, 4],
      {
        size: [3, 2],
        stride: [1, 2],
        padding: [
          [1, 0],
          [0, 1],
        ],
        ceilMode: true,
      },
    ],
  ];
  for (const [shape, options] of cases) {
    it(`${JSON.stringify(shape)} ${JSON.stringify(options)}`, () =>
      checkPool(shape, options, shape.length + shape[1]));
  }

  it('breaks ties with the first maximum in row-major window order, like tf', async () => {
    // Every value equal: the argmax must be the window's first in-bounds tap.
    const x = tensor(new Float32Array(2 * 5 * 5 * 4).fill(1), [2, 5, 5, 4], { requiresGrad: true });
    const argmax = maxPool2d(x, { size: 3, stride: 2, padding: 'same' }).node!.outputs[1];
    const got = await argmax.int32Data();
    // 'same' 3x3 stride 2 on 5: pad 1 each side; windows start at -1, 1, 3 → first taps 0, 1, 3.
    const first = [0, 1, 3];
    for (let oy = 0; oy < 3; oy++)
      for (let ox = 0; ox < 3; ox++) expect(got[(oy * 3 + ox) * 4]).toBe(first[oy] * 5 + first[ox]);
    await expectMatchesReference([argmax], tol);
  });

  for (const channels of [4, 3]) {
    it(`propagates NaN as PyTorch: a NaN tap wins its window, and its gradient goes there (C=${channels})`, async () => {
      // 4x4 image, 2x2 windows: the first window's NaN sits at its last tap, after larger numbers.
      const values = new Float32Array(16 * channels).map((_, i) => i % 7);
      const nanAt = 1 * 4 + 1; // spatial index of (1, 1)
      for (let c = 0; c < channels; c++) values[nanAt * channels + c] = NaN;
      values[0] = 100; // the first tap of channel 0 is large: NaN must still win
      const x = tensor(values, [1, 4, 4, channels], { requiresGrad: true });
      const y = maxPool2d(x, { size: 2, stride: 2 });
      const argmax = y.node!.outputs[1];
      sum(y).backward();
      const [got, arg, dx] = await Promise.all([y.data(), argmax.int32Data(), x.grad!.data()]);
      for (let c = 0; c < channels; c++) {
        expect(Number.isNaN(got[c]), `channel ${c}`).toBe(true);
        expect(arg[c]).toBe(nanAt);
        expect(dx[nanAt * channels + c]).toBe(1);
        expect(dx[c]).toBe(0);
      }
      // The other windows hold no NaN and stay numbers.
      expect(Array.from(got.subarray(channels)).every(Number.isFinite)).toBe(true);
      const node = y.node!;
      const [ref] = node.op.reference([{ shape: x.shape, data: Float64Array.from(values) }], node.attrs);
      expect(Array.from(got).map(String)).toEqual(Array.from(ref.data).map(String));
    });
  }

  it('covers grids past 65,535 workgroups', async () => {
    // 2*300*300*31 = 5.58M outputs at 64 per workgroup: about 87,000 workgroups (scalar lanes, C odd).
    const x = input([2, 300, 300, 31], 9, false);
    const y = maxPool2d(x, { size: 1 });
    const [got, xs] = await Promise.all([y.data(), x.data()]);
    expect(got[got.length - 1]).toBe(xs[xs.length - 1]);
    expect(got[66_000 * 64 + 3]).toBe(xs[66_000 * 64 + 3]);
  });
});

describe('maxPool2d without its argmax (inference)', () => {
  const edges: [number[], PoolOptions][] = [
    [[3, 7, 5, 4], { size: 3, stride: 2, padding: 'same' }],
    [[2, 9, 9, 5], { size: 3, stride: 2, padding: 'same' }],
    [[2, 6, 8, 8], { size: 2, stride: 1, padding: 'same' }],
    [[1, 5, 7, 3], { size: 2, stride: 2 }],
    [[1, 13, 11, 3], { size: 3, stride: 2, padding: 1, ceilMode: true }],
  ];

  /** The one max_pool2d kernel of the flush `fn` causes. */
  async function poolKernel(fn: () => unknown) {
    const kernels = (await explain(fn)).kernels.filter((k) => k.shader === 'max_pool2d');
    expect(kernels.length).toBe(1);
    return kernels[0];
  }

  for (const [shape, options] of edges) {
    it(`writes y alone when x needs no gradient: ${JSON.stringify(shape)} ${JSON.stringify(options)}`, async () => {
      const x = input(shape, shape[1] + 3, false);
      const y = maxPool2d(x, options);
      expect(y.node!.outputs[1].disposed).toBe(true);
      await expectMatchesReference([y], tol, JSON.stringify({ shape, options }));
    });
  }

  it('binds and writes only x and y at inference: noGrad, no-grad input, tidy closed before the flush', async () => {
    const shape = [2, 9, 9, 8];
    const options: PoolOptions = { size: 3, stride: 2, padding: 'same' };
    const x = input(shape, 4, false);
    const xg = input(shape, 4, true);
    const yBytes = 4 * 2 * 5 * 5 * 8;
    const training = await poolKernel(() => maxPool2d(xg, options));
    expect(training.buffers).toBe(3);
    expect(training.bytesWritten).toBe(2 * yBytes);
    for (const fn of [
      () => maxPool2d(x, options),
      () => noGrad(() => maxPool2d(xg, options)),
      () => tidy(() => mul(maxPool2d(xg, options), 2)),
    ]) {
      const k = await poolKernel(fn);
      expect(k.buffers).toBe(2);
      expect(k.bytesWritten).toBe(yBytes);
      expect(k.variant).toContain('ARGMAX_STORE');
    }
    // The y-only and the full kernel take turns in flushes of the same shape: replay must keep them apart.
    for (let round = 0; round < 4; round++) {
      const y = maxPool2d(xg, options);
      const argmax = y.node!.outputs[1];
      if (round % 2 === 0) {
        argmax.dispose();
        await expectMatchesReference([y], tol, `inference round ${round}`);
      } else {
        await y.data();
        await expectMatchesReference([argmax], tol, `argmax round ${round}`);
      }
      // Both go back to the pool, so the next round gets the same buffers and its flush meets this one's plan.
      y.dispose();
      argmax.dispose();
    }
  });

  it('keeps the argmax for a backward asked in a later flush', async () => {
    const shape = [2, 7, 7, 4];
    for (const options of [
      { size: 3, stride: 2, padding: 'same' },
      { size: 2, stride: 2 },
    ] as PoolOptions[]) {
      const x = input(shape, 11, true);
      const y = maxPool2d(x, options);
      const argmax = y.node!.outputs[1];
      await y.data(); // flush 1: the forward, argmax held by the node for a backward
      const weights = input(y.shape, 12, false);
      sum(mul(y, weights)).backward(); // flush 2: the backward gathers through the saved argmax
      await expectMatchesReference([argmax, x.grad!], tol, JSON.stringify(options));
      const check = await gradcheck((t) => maxPool2d(t, options), [input(shape, 13, true)]);
      expect(check.ok, JSON.stringify(check.mismatches.slice(0, 3))).toBe(true);
    }
  });
});

describe('globalAvgPool', () => {
  it('means over H and W with its gradient', async () => {
    const x = input([3, 5, 7, 6], 4);
    const y = globalAvgPool(x);
    expect(y.shape).toEqual([3, 6]);
    sum(y).backward();
    await expectMatchesReference([y, x.grad!], tol);
  });
});
