// PyTorch parity in train mode: torchvision's ResNet-18 and GoogLeNet with PyTorch's weights, two forward passes
// on one batch update every BatchNorm2d's running_mean / running_var as PyTorch's do (unbiased running variance).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { io, tensor, tidy, zoo, type Tensor } from '../../src/index.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { expectClose, useGpu } from '../helpers.js';
import { readF32, relativeL2, torchFixtures, torchMissing } from '../torch.js';

useGpu();

const SIZE = 32;
const PASSES = 2;

/**
 * At 32x32 and batch 2, ResNet-18's layer4 runs at 1x1: its batch norms see 2 values per channel, where
 * (x - mean) / sqrt(var + 1e-5) is ill-conditioned (the two values often differ by less than sqrt(eps)), and
 * float32 rounding upstream grows through them. PyTorch's own float32 run differs from its float64 run by 6.9e-4
 * relative L2 in the logits and 8.0e-5 in layer4's running statistics (GoogLeNet, eps 1e-3: 9.0e-5 and 3.5e-6),
 * so those get the looser bounds; everything else is held to float32 accuracy. The biased convention would miss
 * by 0.6 (ResNet-18) and 0.13 (GoogLeNet).
 */
const LOGITS_TOLERANCE = { resnet18: 2e-3, googlenet: 3e-4 };
const illConditioned = (arch: string, key: string) => arch === 'resnet18' && key.startsWith('layer4.');
const STATS_TOLERANCE = { atol: 1e-5, rtol: 1e-4 };
const ILL_CONDITIONED_TOLERANCE = { atol: 3e-4, rtol: 3e-3 };

/**
 * Train-mode logits without the dropout stage (GoogLeNet's; PyTorch's fixture runs its dropout in eval mode too),
 * so both frameworks' logits are deterministic.
 */
function trainLogits(model: zoo.ZooModel, x: Tensor): Tensor {
  return tidy(() =>
    model
      .stages()
      .filter((s) => s.name !== 'dropout')
      .reduce((h, s) => s.run(h), x),
  );
}

/** Largest |got - want| over the running statistics of every batch norm, and the first key that reaches it. */
function maxAbsDiff(got: Record<string, Float32Array>, want: Record<string, ArrayLike<number>>): string {
  let worst = 0;
  let where = '';
  for (const [k, g] of Object.entries(got)) {
    for (let i = 0; i < g.length; i++) {
      const d = Math.abs(g[i] - want[k][i]);
      if (d > worst) [worst, where] = [d, `${k}[${i}]`];
    }
  }
  return `${worst.toExponential(2)} at ${where}`;
}

describe.skipIf(torchMissing)('torchvision parity in train mode: batch-norm running statistics', () => {
  for (const arch of ['resnet18', 'googlenet'] as const) {
    it(`${arch} at ${SIZE}x${SIZE}, batch 2, ${PASSES} train-mode passes`, { timeout: 600_000 }, async () => {
      const dir = torchFixtures('bntrain', arch, String(SIZE), String(PASSES));
      const model = zoo.buildZoo({ kind: 'zoo', arch, classes: 10, inputShape: [SIZE, SIZE, 3], seed: 3 });
      expect(await io.loadTorchWeights(model, join(dir, `${arch}.pth`))).toEqual({
        missing: [],
        unexpected: [],
      });
      const statKeys = Object.keys(model.stateDict()).filter((k) => /\.running_(mean|var)$/.test(k));
      expect(statKeys.length).toBeGreaterThan(arch === 'googlenet' ? 100 : 30);

      const input = readF32(join(dir, `${arch}_bntrain_input.bin`));
      const x = tensor(input, [2, SIZE, SIZE, 3]);
      model.train();
      for (let pass = 0; pass < PASSES; pass++) {
        const y = trainLogits(model, x);
        const got = await y.data();
        y.dispose();
        const err = relativeL2(got, readF32(join(dir, `${arch}_bntrain_logits_${pass}.bin`)));
        console.log(`${arch} train-mode logits, pass ${pass}: relative L2 ${err.toExponential(2)}`);
        expect(err, `pass ${pass}: relative L2 ${err}`).toBeLessThanOrEqual(LOGITS_TOLERANCE[arch]);
      }
      x.dispose();

      const bytes = readFileSync(join(dir, `${arch}_bntrain.safetensors`));
      const { tensors } = decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      const state = model.stateDict();
      const got: Record<string, Float32Array> = {};
      for (const k of statKeys) got[k] = await state[k].data();
      const want = Object.fromEntries(statKeys.map((k) => [k, tensors[k].data]));
      console.log(
        `${arch} running statistics after ${PASSES} passes: max |webgrad - PyTorch| ${maxAbsDiff(got, want)}`,
      );
      for (const k of statKeys) {
        expectClose(
          got[k],
          want[k],
          illConditioned(arch, k) ? ILL_CONDITIONED_TOLERANCE : STATS_TOLERANCE,
          k,
        );
      }
      model.dispose();
    });
  }
});
