// fit with augmentation in workers: results independent of the worker count, mixup's soft loss, errors, streaming.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { listImageFolder } from '../../src/data/folder.js';
import { Adam, FormatError, fit, resnet, type EpochRecord, type data } from '../../src/index.js';
import { seeded, useGpu } from '../helpers.js';

useGpu();

const ds: data.Dataset = {
  images: seeded(24 * 8 * 8, 21).map((v) => (v + 1) / 2),
  labels: Int32Array.from({ length: 24 }, (_, i) => i % 3),
  shape: [8, 8, 1],
  classes: ['a', 'b', 'c'],
  length: 24,
};

async function train(
  options: { augment?: string; workers?: number },
  source: data.Dataset | data.ImageFolderIndex = ds,
) {
  const model = resnet({ inputShape: [8, 8, 1], widths: [4], blocks: [1], classes: 3, seed: 3 });
  const history: EpochRecord[] = await fit(model, source, {
    epochs: 2,
    batchSize: 8,
    optimizer: new Adam(model.parameters(), { lr: 0.01 }),
    seed: 4,
    ...options,
  });
  const weights = await Promise.all(Object.values(model.stateDict()).map((t) => t.data()));
  return { history, weights };
}

describe('fit with augment and workers', () => {
  it('0 and 2 workers train to bit-identical weights and losses, with mixup and cutmix', async () => {
    const spec = 'crop:pad=1;flip;affine:degrees=10;mixup:alpha=0.4;cutmix:alpha=1';
    const a = await train({ augment: spec, workers: 0 });
    const b = await train({ augment: spec, workers: 2 });
    expect(b.history.map((r) => r.loss)).toEqual(a.history.map((r) => r.loss));
    b.weights.forEach((w, i) => expect(w).toEqual(a.weights[i]));
    for (const r of b.history) {
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.dataWaitFraction).toBeGreaterThanOrEqual(0);
      expect(r.dataWaitFraction).toBeLessThanOrEqual(1);
    }
  });

  it('augmentation changes training (and no augmentation trains as before, without workers)', async () => {
    const plain = await train({});
    const augmented = await train({ augment: 'standard', workers: 1 });
    expect(augmented.history[0].loss).not.toBe(plain.history[0].loss);
    expect(plain.history[0].dataWaitSeconds).toBe(0);
  });

  it('a bad spec or a corrupt image fails fit with a typed error, and the engine stays usable', async () => {
    await expect(train({ augment: 'crop:pad=-1' })).rejects.toThrow(
      /step 0 \(crop\): 'pad' must be a number >= 0/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'webgrad-fit-folder-'));
    try {
      for (const cls of ['a', 'b', 'c']) {
        mkdirSync(join(dir, cls));
        for (let i = 0; i < 4; i++) {
          const png = new PNG({ width: 8, height: 8 });
          png.data.fill(40 * i + cls.charCodeAt(0));
          writeFileSync(join(dir, cls, `${i}.png`), PNG.sync.write(png));
        }
      }
      const index = await listImageFolder(dir, { size: [8, 8], channels: 1 });
      const streamed = await train({ augment: 'digits', workers: 2 }, index);
      expect(streamed.history.length).toBe(2);
      writeFileSync(join(dir, 'b', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0, 1, 2]));
      const broken = await listImageFolder(dir, { size: [8, 8], channels: 1 });
      const error = await train({ workers: 2 }, broken).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(FormatError);
      expect((error as Error).message).toContain('broken.jpg');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await train({})).history.length).toBe(2);
  });
});
