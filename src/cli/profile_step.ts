// `webgrad train --profile`: per-kernel GPU times of one training step of the trained model (wg.profile's table).
import { tensor } from '../graph/create.js';
import { profile } from '../graph/profile.js';
import { tidy } from '../graph/tidy.js';
import type { Module } from '../nn/module.js';
import { softmaxCrossEntropy } from '../ops/softmax_cross_entropy.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Dataset } from '../data/dataset.js';

/**
 * Profiles a training step (forward, loss, backward, optimizer update) on the first `batchSize` images of `ds`
 * and returns the report: timing mode, the top `top` kernels with their medians and shares of the step. It runs
 * after the checkpoint is written: the steps it times change the weights in memory, not the saved ones.
 */
export async function profileTrainStep(
  model: Module,
  optimizer: Optimizer,
  ds: Dataset,
  batchSize: number,
  top = 10,
): Promise<string> {
  const n = Math.min(batchSize, ds.length);
  const [h, w, c] = ds.shape;
  const x = tensor(ds.images.subarray(0, n * h * w * c), [n, h, w, c]);
  const y = tensor(ds.labels.subarray(0, n), [n], { dtype: 'int32' });
  model.train();
  try {
    const step = () => {
      tidy(() => softmaxCrossEntropy(model.forward(x), y).backward());
      optimizer.step();
      optimizer.zeroGrad();
    };
    const p = await profile(step, { runs: 3, warmup: 1, top });
    return `webgrad: profile of one training step, batch ${n} (${p.mode}):\n${p.text}`;
  } finally {
    x.dispose();
    y.dispose();
  }
}
