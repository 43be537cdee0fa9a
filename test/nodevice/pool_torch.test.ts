// No-device tests of explicit-padding and ceil-mode pooling: PyTorch's sizes and values, typed errors, gradients.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  avgPool2d,
  evaluateReference,
  leavesOf,
  maxPool2d,
  mul,
  sum,
  tensor,
  type Tensor,
} from '../../src/index.js';
import { expectClose, seeded } from '../helpers.js';
import { readF32, torchFixtures, torchMissing } from '../torch.js';

const values = (t: Tensor) => new Float64Array(t.storage.upload!);
const leafValues = (outs: Tensor[]) => new Map(leavesOf(outs).map((t) => [t, values(t)]));
const ref = (out: Tensor) => evaluateReference([out], leafValues([out]))[0].data;

describe('explicit padding and ceil mode: shapes and errors', () => {
  const x = tensor(new Float32Array(2 * 112 * 112), [2, 112, 112, 1]);
  it("gives torchvision's sizes", () => {
    // ResNet stem pool: 3x3/2 pad 1 on 112 → 56; GoogLeNet's ceil-mode 3x3/2 pools: 112 → 56, 2x2/2 on 7 → 4.
    expect(maxPool2d(x, { size: 3, stride: 2, padding: 1 }).shape).toEqual([2, 56, 56, 1]);
    expect(maxPool2d(x, { size: 3, stride: 2, ceilMode: true }).shape).toEqual([2, 56, 56, 1]);
    const y = tensor(new Float32Array(49), [1, 7, 7, 1]);
    expect(maxPool2d(y, { size: 2, stride: 2, ceilMode: true }).shape).toEqual([1, 4, 4, 1]);
    expect(
      avgPool2d(y, {
        size: 3,
        stride: 2,
        padding: [
          [1, 0],
          [0, 1],
        ],
      }).shape,
    ).toEqual([1, 3, 3, 1]);
    // The last window would start in the bottom padding only: PyTorch drops it (5 + 1 pad, k 2, s 2 → 3, not 4).
    const z = tensor(new Float32Array(25), [1, 5, 5, 1]);
    expect(maxPool2d(z, { size: 2, stride: 2, padding: 1, ceilMode: true }).shape).toEqual([1, 3, 3, 1]);
  });
  it('refuses bad padding and ceil mode with typed errors', () => {
    expect(() => maxPool2d(x, { size: 3, padding: 3 })).toThrow(ArgumentError);
    expect(() => maxPool2d(x, { size: 3, padding: 3 })).toThrow(/smaller than the window 3x3/);
    expect(() => maxPool2d(x, { size: 3, padding: 'same', ceilMode: true })).toThrow(/ceilMode/);
    expect(() => avgPool2d(x, { size: 3, ceilMode: 1 as unknown as boolean })).toThrow(ArgumentError);
    expect(() => avgPool2d(x, { size: 3, padding: -1 })).toThrow(/padding/);
  });
});

describe('ceil-mode reference backward vs finite differences', () => {
  for (const pool of [maxPool2d, avgPool2d]) {
    it(pool.name, () => {
      const x = tensor(seeded(2 * 7 * 6 * 3, 11), [2, 7, 6, 3], { requiresGrad: true });
      const y = pool(x, { size: 3, stride: 2, padding: 1, ceilMode: true });
      const loss = sum(mul(y, tensor(seeded(y.size, 12), y.shape)));
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
    });
  }
});

interface PoolCase {
  shape: number[];
  outShape: number[];
  kernel: number;
  stride: number;
  padding: number;
  ceilMode: boolean;
}

describe.skipIf(torchMissing)("the float64 reference vs PyTorch's max_pool2d / avg_pool2d", () => {
  const dir = torchMissing ? '' : torchFixtures('pool');
  const cases = torchMissing ? [] : (JSON.parse(readFileSync(join(dir, 'pool.json'), 'utf8')) as PoolCase[]);
  cases.forEach((c, i) => {
    it(JSON.stringify(c), () => {
      const x = tensor(readF32(join(dir, `pool${i}_x.bin`)), c.shape);
      const options = { size: c.kernel, stride: c.stride, padding: c.padding, ceilMode: c.ceilMode };
      const mx = maxPool2d(x, options);
      const av = avgPool2d(x, options);
      expect(mx.shape).toEqual(c.outShape);
      expectClose(ref(mx), readF32(join(dir, `pool${i}_max.bin`)), { atol: 0, rtol: 0 }, 'max');
      expectClose(ref(av), readF32(join(dir, `pool${i}_avg.bin`)), { atol: 1e-6, rtol: 1e-6 }, 'avg');
    });
  });
});
