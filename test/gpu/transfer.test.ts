// Transfer learning on the device: freezing by depth, feature caches (shards, manifest, reuse, stale refusal),
// the head trained on cached features equals the merged model evaluated on images.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  FormatError,
  SGD,
  data as wgData,
  evaluate,
  fit,
  resnet,
  transfer,
  zoo,
} from '../../src/index.js';
import { seeded, useGpu } from '../helpers.js';

useGpu();

/** Two classes of RGB noise images, the second brighter, so a head can learn them. */
function images(n: number, size: number, channels = 3): wgData.Dataset {
  const per = size * size * channels;
  const noise = seeded(n * per, 5);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
  const pixels = noise.map((v, i) => 0.5 * v + (labels[Math.floor(i / per)] ? 0.6 : -0.6));
  return { images: pixels, labels, shape: [size, size, channels], classes: ['dark', 'bright'], length: n };
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'webgrad-features-'));

describe('transfer with a zoo ResNet-18', () => {
  it(
    'caches pooled features in shards, reuses a fresh cache, refuses a stale one; cached head = merged model',
    { timeout: 300_000 },
    async () => {
      const model = zoo.resnet18({ classes: 5, inputShape: [32, 32, 3], seed: 1 });
      model.replaceHead(2);
      await expect(transfer.cacheFeatures(model, images(4, 32), { dir: tempDir() })).rejects.toThrow(
        ArgumentError,
      );
      expect(transfer.freezeTrunk(model)).toBe('avgpool');
      expect(model.parameters().length).toBe(2);
      const train = images(40, 32);
      const dir = tempDir();
      const built = await transfer.cacheFeatures(model, train, { dir, batchSize: 16, shardSize: 16 });
      expect(built.reused).toBe(false);
      expect(built.featureShape).toEqual([512]);
      expect(built.shards.map((s) => s.count)).toEqual([16, 16, 8]);
      expect(readdirSync(dir).sort()).toEqual([
        'features-00000.safetensors',
        'features-00001.safetensors',
        'features-00002.safetensors',
        'manifest.json',
      ]);
      expect((await transfer.cacheFeatures(model, train, { dir, batchSize: 16, shardSize: 16 })).reused).toBe(
        true,
      );

      const features = await transfer.loadFeatures(dir, { model });
      expect(features.shape).toEqual([1, 1, 512]);
      expect(Array.from(features.labels)).toEqual(Array.from(train.labels));
      const head = new transfer.FeatureHead(model, 'avgpool');
      expect(head.parameters()).toEqual(model.parameters());
      await fit(head, features, {
        epochs: 3,
        batchSize: 8,
        optimizer: new SGD(head.parameters(), { lr: 0.05 }),
      });
      const onFeatures = await evaluate(head, features);
      const onImages = await evaluate(model, train, { batchSize: 16 });
      expect(onImages.accuracy).toBe(onFeatures.accuracy);
      expect(Math.abs(onImages.loss - onFeatures.loss)).toBeLessThan(1e-4);
      expect(onImages.accuracy).toBeGreaterThan(0.5);

      // Training the head does not touch the cached trunk: still fresh. Changing a trunk weight makes it stale.
      await transfer.loadFeatures(dir, { model });
      const conv1 = model.stateDict()['conv1.weight'];
      model.loadStateDict(
        { 'conv1.weight': { shape: conv1.shape, data: new Float32Array(conv1.size).fill(0.01) } },
        { strict: false },
      );
      await expect(transfer.loadFeatures(dir, { model })).rejects.toThrow(FormatError);
      await expect(transfer.loadFeatures(dir, { model })).rejects.toThrow(/stale feature cache/);
      expect((await transfer.cacheFeatures(model, train, { dir, batchSize: 16, shardSize: 16 })).reused).toBe(
        false,
      );
      await transfer.loadFeatures(dir, { model });
      model.dispose();
    },
  );

  it('trains the last block too: caches layer3 feature maps', { timeout: 300_000 }, async () => {
    const model = zoo.resnet18({ classes: 2, inputShape: [32, 32, 3], seed: 2 });
    expect(transfer.freezeTrunk(model, { trainLast: 1 })).toBe('layer3');
    expect(
      model
        .namedParameters()
        .filter(([, t]) => t.requiresGrad)
        .every(([n]) => /^(layer4|fc)\./.test(n)),
    ).toBe(true);
    const train = images(16, 32);
    const dir = tempDir();
    const built = await transfer.cacheFeatures(model, train, { dir, upTo: 'layer3', batchSize: 8 });
    expect(built.featureShape).toEqual([2, 2, 256]);
    const features = await transfer.loadFeatures(dir, { model });
    const head = new transfer.FeatureHead(model, 'layer3');
    await fit(head, features, {
      epochs: 1,
      batchSize: 8,
      optimizer: new SGD(head.parameters(), { lr: 0.01 }),
    });
    const onFeatures = await evaluate(head, features);
    const onImages = await evaluate(model, train, { batchSize: 8 });
    expect(onImages.accuracy).toBe(onFeatures.accuracy);
    expect(Math.abs(onImages.loss - onFeatures.loss)).toBeLessThan(1e-4);
    expect(() => transfer.freezeTrunk(model, { trainLast: 9 })).toThrow(/trainLast/);
    model.dispose();
  });
});

describe("transfer with webgrad's own ResNet", () => {
  it('caches, trains the head and merges back', { timeout: 120_000 }, async () => {
    const model = resnet({ inputShape: [12, 12, 1], classes: 3, widths: [4, 8], blocks: [1, 1] });
    model.replaceHead(2);
    expect(transfer.freezeTrunk(model)).toBe('pool');
    const train = images(24, 12, 1);
    const dir = tempDir();
    await transfer.cacheFeatures(model, train, { dir });
    const features = await transfer.loadFeatures(dir, { model });
    const head = new transfer.FeatureHead(model, 'pool');
    await fit(head, features, {
      epochs: 5,
      batchSize: 8,
      optimizer: new SGD(head.parameters(), { lr: 0.1 }),
    });
    const a = await evaluate(head, features);
    const b = await evaluate(model, train);
    expect(b.accuracy).toBe(a.accuracy);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-4);
    await expect(transfer.loadFeatures(join(dir, 'nothing'))).rejects.toThrow(/no manifest.json/);
    model.dispose();
  });
});
