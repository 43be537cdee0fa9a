// PyTorch parity: seeded torchvision models (.pth and .safetensors) loaded into the zoo give PyTorch's eval logits;
// webgrad's export loads back into torchvision (strict, weights_only) and gives them again.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { io, tensor, zoo } from '../../src/index.js';
import { useGpu } from '../helpers.js';
import { readF32, relativeL2, runTorch, torchFixtures, torchMissing } from '../torch.js';

useGpu();

/** Every architecture at 32 and 64; ResNet-18 also at 224, the size its pretrained weights expect. */
const CASES: [zoo.ZooArch, number[]][] = [
  ['resnet18', [32, 64, 224]],
  ['resnet34', [32, 64]],
  ['resnet50', [32, 64]],
  ['googlenet', [32, 64]],
];
const TOLERANCE = 1e-4;

async function logits(model: zoo.ZooModel, input: Float32Array, size: number): Promise<Float32Array> {
  const x = tensor(input, [input.length / (size * size * 3), size, size, 3]);
  const y = model.forward(x);
  const out = await y.data();
  x.dispose();
  y.dispose();
  return out;
}

describe.skipIf(torchMissing)('torchvision parity', () => {
  for (const [arch, sizes] of CASES) {
    it(
      `${arch} at ${sizes.join(', ')}: .pth and .safetensors in, both formats out`,
      { timeout: 600_000 },
      async () => {
        const dir = torchFixtures('models', arch, ...sizes.map(String));
        const model = zoo.buildZoo({ kind: 'zoo', arch, classes: 10, inputShape: [64, 64, 3], seed: 3 });
        model.eval();
        for (const file of [`${arch}.pth`, `${arch}.safetensors`]) {
          expect(await io.loadTorchWeights(model, join(dir, file))).toEqual({ missing: [], unexpected: [] });
          for (const size of sizes) {
            const got = await logits(model, readF32(join(dir, `${arch}_${size}_input.bin`)), size);
            const err = relativeL2(got, readF32(join(dir, `${arch}_${size}_logits.bin`)));
            console.log(`${arch} ${file} ${size}x${size}: relative L2 ${err.toExponential(2)}`);
            expect(err, `${file} at ${size}: relative L2 ${err}`).toBeLessThanOrEqual(TOLERANCE);
          }
        }
        for (const ext of ['pth', 'safetensors']) {
          const out = join(dir, `export.${ext}`);
          await io.saveTorchWeights(out, model);
          const size = sizes[0];
          const input = join(dir, `${arch}_${size}_input.bin`);
          runTorch('logits', out, arch, '10', input, String(size), join(dir, `back_${ext}.bin`));
          const err = relativeL2(
            readF32(join(dir, `back_${ext}.bin`)),
            readF32(join(dir, `${arch}_${size}_logits.bin`)),
          );
          console.log(
            `${arch} exported as ${ext}, in PyTorch at ${size}x${size}: relative L2 ${err.toExponential(2)}`,
          );
          expect(err, `PyTorch on webgrad's ${ext}: relative L2 ${err}`).toBeLessThanOrEqual(TOLERANCE);
        }
        model.dispose();
      },
    );
  }
});
