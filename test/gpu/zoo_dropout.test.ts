// GoogLeNet's dropout before fc (torchvision's p=0.2): training mode only, the reference mask of wg.dropout, and
// never inside a feature cache, while a head trained on cached features applies it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensor, tidy, transfer, zoo, type Tensor } from '../../src/index.js';
import { refDropoutMask } from '../../src/reference/dropout.js';
import { expectClose, seeded, useGpu } from '../helpers.js';

useGpu();

const SIZE = 32;
const N = 2;
const FEATURES = 1024;
const RATE = 0.2;
const TOL = { atol: 1e-5, rtol: 1e-5 };

/** logits = features @ fc.weight + fc.bias in float64. Shapes: features [N*F] → [N*classes]. */
async function fcReference(model: zoo.ZooModel, features: ArrayLike<number>): Promise<Float64Array> {
  const state = model.stateDict();
  const [w, b] = await Promise.all([state['fc.weight'].data(), state['fc.bias'].data()]);
  const classes = b.length;
  const out = new Float64Array(N * classes);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < classes; k++) {
      let acc = b[k];
      for (let f = 0; f < FEATURES; f++) acc += features[n * FEATURES + f] * w[f * classes + k];
      out[n * classes + k] = acc;
    }
  return out;
}

async function run(fn: () => Tensor): Promise<Float32Array> {
  const y = tidy(fn);
  const values = await y.data();
  y.dispose();
  return values;
}

describe('GoogLeNet dropout (p=0.2 before fc)', () => {
  it(
    'is the identity in eval mode and the seeded reference mask in training mode',
    { timeout: 300_000 },
    async () => {
      const model = zoo.googlenet({ classes: 3, inputShape: [SIZE, SIZE, 3], seed: 4 });
      expect(
        model
          .stages()
          .map((s) => s.name)
          .slice(-3),
      ).toEqual(['avgpool', 'dropout', 'fc']);
      // A frozen trunk runs its batch norms on the running statistics in either mode, so only dropout differs.
      transfer.freezeTrunk(model);
      const x = tensor(seeded(N * SIZE * SIZE * 3, 7), [N, SIZE, SIZE, 3]);

      model.eval();
      const pooled = await run(() => model.forwardRange(x, null, 'avgpool'));
      const evalLogits = await run(() => model.forward(x));
      expectClose(evalLogits, await fcReference(model, pooled), TOL, 'eval logits = fc(pooled)');
      expectClose(
        await run(() => model.forwardRange(x, null, 'dropout')),
        pooled,
        { atol: 0, rtol: 0 },
        'eval',
      );

      model.train();
      // nn.Dropout seeded from the model's seed, one seed per call (GoogLeNet's: seed * 10000 + 7777, then + 1, ...).
      const seed = model.config.seed * 10_000 + 7_777;
      const dropped = await run(() => model.forwardRange(x, null, 'dropout'));
      const mask = refDropoutMask(N * FEATURES, RATE, seed);
      expectClose(
        dropped,
        Array.from(pooled, (v, i) => v * mask[i]),
        TOL,
        'training: pooled * mask',
      );
      const zeroed = mask.filter((m) => m === 0).length / mask.length;
      expect(zeroed).toBeGreaterThan(0.15);
      expect(zeroed).toBeLessThan(0.25);
      expect(mask.every((m) => m === 0 || m === Math.fround(1 / (1 - RATE)))).toBe(true);

      const trainLogits = await run(() => model.forward(x));
      const nextMask = refDropoutMask(N * FEATURES, RATE, seed + 1);
      const want = await fcReference(
        model,
        Array.from(pooled, (v, i) => v * nextMask[i]),
      );
      expectClose(trainLogits, want, TOL, 'training logits = fc(pooled * the next mask)');
      expect(Array.from(trainLogits)).not.toEqual(Array.from(evalLogits));

      model.eval();
      expectClose(await run(() => model.forward(x)), evalLogits, { atol: 0, rtol: 0 }, 'eval again');
      x.dispose();
      model.dispose();
    },
  );

  it(
    'is left out of cached features, and applied by the head trained on them',
    { timeout: 300_000 },
    async () => {
      const model = zoo.googlenet({ classes: 2, inputShape: [SIZE, SIZE, 3], seed: 5 });
      expect(transfer.freezeTrunk(model)).toBe('avgpool');
      const images = seeded(N * SIZE * SIZE * 3, 9);
      const data = {
        images,
        labels: Int32Array.of(0, 1),
        shape: [SIZE, SIZE, 3] as [number, number, number],
        classes: ['a', 'b'],
        length: N,
      };
      const x = tensor(images, [N, SIZE, SIZE, 3]);
      model.eval();
      const pooled = await run(() => model.forwardRange(x, null, 'avgpool'));
      x.dispose();

      // Cached in training mode: the cache runs the trunk in eval mode, so no element is dropped.
      model.train();
      const dir = mkdtempSync(join(tmpdir(), 'webgrad-dropout-'));
      const manifest = await transfer.cacheFeatures(model, data, { dir });
      expect(manifest.featureShape).toEqual([FEATURES]);
      expect(model.training).toBe(true);
      const features = await transfer.loadFeatures(dir, { model });
      expectClose(features.images, pooled, TOL, 'cached features = eval pooled features');

      const head = new transfer.FeatureHead(model, 'avgpool');
      const cached = tensor(features.images, [N, 1, 1, FEATURES]);
      head.eval();
      expectClose(await run(() => head.forward(cached)), await fcReference(model, pooled), TOL, 'eval head');
      head.train();
      const seed = model.config.seed * 10_000 + 7_777;
      const mask = refDropoutMask(N * FEATURES, RATE, seed);
      const want = await fcReference(
        model,
        Array.from(pooled, (v, i) => v * mask[i]),
      );
      expectClose(await run(() => head.forward(cached)), want, TOL, 'training head = fc(features * mask)');
      cached.dispose();
      model.dispose();
    },
  );
});
