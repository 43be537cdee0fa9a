// Dropout, ReLU6, DepthwiseConv2d, LayerNorm and GroupNorm: values vs the float64 reference / PyTorch's definitions,
// train/eval behaviour, and gradients by finite differences.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const input = (shape: number[], seed: number) =>
  wg.tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

describe('extra nn layers', () => {
  it('Dropout drops in training and is the identity in eval', async () => {
    const layer = new wg.nn.Dropout(0.5, 3);
    const x = input([4, 50], 1);
    const y = await layer.forward(x).data();
    expect(y.filter((v) => v === 0).length).toBeGreaterThan(50);
    layer.eval();
    expect(layer.forward(x)).toBe(x);
  });

  it('ReLU6 clips to [0, 6] and has no parameters', async () => {
    const x = wg.tensor([-3, 0, 2.5, 6, 9], [5]);
    const layer = new wg.nn.ReLU6();
    expect(Array.from(await layer.forward(x).data())).toEqual([0, 0, 2.5, 6, 6]);
    expect(layer.namedParameters()).toEqual([]);
  });

  it('DepthwiseConv2d, LayerNorm and GroupNorm match the reference; LayerNorm rows have mean 0, var 1', async () => {
    const x = input([2, 5, 4, 6], 2);
    const dw = new wg.nn.DepthwiseConv2d(6, 3, { multiplier: 2, stride: 2 });
    const ln = new wg.nn.LayerNorm(6);
    const gn = new wg.nn.GroupNorm(3, 6);
    const outs = [dw.forward(x), ln.forward(x), gn.forward(x)];
    expect(outs[0].shape).toEqual([2, 3, 2, 12]);
    await expectMatchesReference(outs, { atol: 1e-4, rtol: 1e-4 });
    const rows = await outs[1].data();
    const row = Array.from(rows.slice(0, 6));
    const mean = row.reduce((a, b) => a + b, 0) / 6;
    expect(Math.abs(mean)).toBeLessThan(1e-5);
    expect(Math.abs(row.reduce((a, b) => a + (b - mean) ** 2, 0) / 6 - 1)).toBeLessThan(1e-3);
  });

  it('has gradients that pass gradcheck', async () => {
    const x = input([1, 3, 3, 4], 3);
    const gn = new wg.nn.GroupNorm(2, 4);
    const ln = new wg.nn.LayerNorm(4);
    const dw = new wg.nn.DepthwiseConv2d(4, 3);
    for (const [name, f] of [
      ['GroupNorm', (t: wg.Tensor) => gn.forward(t)],
      ['LayerNorm', (t: wg.Tensor) => ln.forward(t)],
      ['DepthwiseConv2d', (t: wg.Tensor) => dw.forward(t)],
    ] as [string, (t: wg.Tensor) => wg.Tensor][]) {
      const result = await wg.gradcheck(f, [x], { atol: 1e-3, rtol: 2e-2 });
      expect(result.mismatches, name).toEqual([]);
    }
  });
});
