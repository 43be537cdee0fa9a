// dropout vs its float64 reference (the same hash), its rate, its saved-mask gradient, and its argument checks.
import { describe, expect, it } from 'vitest';
import { ArgumentError, dropout, gradcheck, tensor } from '../../src/index.js';
import { expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();

describe('dropout', () => {
  it('matches the reference mask, keeps about 1 - rate, and scales the kept', async () => {
    const n = 20_000;
    const x = tensor(seeded(n, 1), [100, 200]);
    const y = dropout(x, 0.3, { seed: 7 });
    await expectMatchesReference([y], { atol: 1e-6, rtol: 1e-6 });
    const [yv, xv] = await Promise.all([y.data(), x.data()]);
    const kept = yv.filter((v) => v !== 0).length;
    expect(Math.abs(kept / n - 0.7)).toBeLessThan(0.02);
    const i = yv.findIndex((v) => v !== 0);
    expect(yv[i]).toBeCloseTo(xv[i] / 0.7, 5);
    const again = await dropout(x, 0.3, { seed: 7 }).data();
    expect(Array.from(again)).toEqual(Array.from(yv));
    const other = await dropout(x, 0.3, { seed: 8 }).data();
    expect(Array.from(other)).not.toEqual(Array.from(yv));
  });

  it('has the gradient dy * mask', async () => {
    const x = tensor(seeded(30, 2), [5, 6]);
    const result = await gradcheck((t) => dropout(t, 0.5, { seed: 3 }), [x]);
    expect(result.mismatches).toEqual([]);
  });

  it('refuses a bad rate or seed', () => {
    const x = tensor([1, 2]);
    expect(() => dropout(x, 1)).toThrow(ArgumentError);
    expect(() => dropout(x, -0.1)).toThrow(/dropout: 'rate' must be a number in \[0, 1\)/);
    expect(() => dropout(x, 0.5, { seed: 1.5 })).toThrow(/dropout: 'seed' must be an integer/);
  });
});
