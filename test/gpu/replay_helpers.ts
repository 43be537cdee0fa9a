// Shared by the replay tests: one training step of a small network on a seeded batch, as fit() records it.
import { expect } from 'vitest';
import { softmaxCrossEntropy, tensor, tidy, type Network, type Optimizer } from '../../src/index.js';
import { seeded } from '../helpers.js';

/**
 * One step (forward, loss, backward, optimizer step, zeroGrad) on `b` images of `shape` seeded by `seed`, with
 * labels `(k + seed) % classes`; expects a finite loss.
 */
export async function trainStep(
  model: Network,
  opt: Optimizer,
  shape: readonly number[],
  classes: number,
  b: number,
  seed: number,
): Promise<void> {
  const x = tensor(seeded(b * shape.reduce((p, d) => p * d, 1), seed), [b, ...shape]);
  const y = tensor(
    Int32Array.from({ length: b }, (_, k) => (k + seed) % classes),
    [b],
    { dtype: 'int32' },
  );
  const loss = tidy(() => {
    const l = softmaxCrossEntropy(model.forward(x), y);
    l.backward();
    return l;
  });
  await opt.step();
  opt.zeroGrad();
  expect(Number.isFinite((await loss.data())[0])).toBe(true);
  for (const t of [x, y, loss]) t.dispose();
}
