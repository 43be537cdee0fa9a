// The two fusions chosen when ops are recorded, switched by init's `fusion` option like the graph passes:
// batchNormSingle (one kernel per batch-norm direction) and groupedUpdate (one optimizer kernel per group).
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { expectClose } from '../helpers.js';

afterAll(() => wg.release());

/** Kernel counts by shader, and the parameters after two SGD steps, of a small ResNet under `fusion`. */
async function run(fusion: wg.InitOptions['fusion']) {
  wg.release();
  await wg.init({ poisonBuffers: true, fusion });
  const model = wg.resnet({ inputShape: [8, 8, 1], classes: 3, widths: [4, 8], blocks: [1, 1], seed: 5 });
  const optimizer = new wg.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const x = wg.tensor(
    Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i)),
    [2, 8, 8, 1],
  );
  const y = wg.tensor(new Int32Array([0, 2]), [2], { dtype: 'int32' });
  const step = async () => {
    const loss = wg.tidy(() => {
      const l = wg.softmaxCrossEntropy(model.forward(x), y);
      l.backward();
      return l;
    });
    void optimizer.step();
    optimizer.zeroGrad();
    await loss.data();
    loss.dispose();
  };
  await step();
  const plan = await wg.explain(step);
  const counts: Record<string, number> = {};
  for (const k of plan.kernels) counts[k.shader] = (counts[k.shader] ?? 0) + 1;
  await step();
  const params = await Promise.all(model.parameters().map((p) => p.data()));
  return { counts, params, trainable: model.parameters().filter((p) => p.requiresGrad).length };
}

describe('init({ fusion }) switches batchNormSingle and groupedUpdate', () => {
  it('off: three-kernel batch norm and one update per parameter; on: one kernel each way and grouped updates; same values', async () => {
    const off = await run({ batchNormSingle: false, groupedUpdate: false });
    expect(off.counts.batch_norm_train_single).toBeUndefined();
    expect(off.counts.batch_norm_grad_single).toBeUndefined();
    expect(off.counts.batch_norm_stats).toBeGreaterThan(0);
    expect(off.counts.optimizer_update).toBe(off.trainable);
    const on = await run(true);
    expect(on.counts.batch_norm_stats).toBeUndefined();
    expect(on.counts.batch_norm_train_single).toBe(off.counts.batch_norm_stats);
    expect(on.counts.optimizer_update).toBeLessThan(off.trainable);
    const none = await run(false);
    expect(none.counts.batch_norm_train_single).toBeUndefined();
    expect(none.counts.optimizer_update).toBe(none.trainable);
    on.params.forEach((p, i) => expectClose(p, off.params[i], { atol: 1e-5, rtol: 1e-4 }, `param ${i}`));
    on.params.forEach((p, i) => expectClose(p, none.params[i], { atol: 1e-5, rtol: 1e-4 }, `param ${i}`));
  });
});
