// Model checkpoints: saved and loaded networks predict bit-identically; optimizer state resumes training exactly.
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Adam,
  FormatError,
  randn,
  resnet,
  inception,
  softmaxCrossEntropy,
  tensor,
  tidy,
} from '../../src/index.js';
import type { Network } from '../../src/nn/index.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { useGpu } from '../helpers.js';

useGpu();
const dir = mkdtempSync(join(tmpdir(), 'webgrad-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const x = () => randn([4, 12, 12, 1], { seed: 21 });
const y = () => tensor([0, 1, 2, 1], [4], { dtype: 'int32' });

function trainSteps(model: Network, opt: Adam, steps: number): void {
  const xs = x();
  const ys = y();
  for (let i = 0; i < steps; i++) {
    tidy(() => softmaxCrossEntropy(model.forward(xs), ys).backward());
    opt.step();
    opt.zeroGrad();
  }
  xs.dispose();
  ys.dispose();
}

async function predict(model: Network): Promise<Float32Array> {
  model.eval();
  const xs = x();
  const logits = tidy(() => model.forward(xs));
  const out = await logits.data();
  logits.dispose();
  xs.dispose();
  model.train();
  return out;
}

describe('model checkpoints', () => {
  for (const build of [resnet, inception]) {
    it(`${build.name}: loaded model predicts bit-identically and resumes exactly`, async () => {
      const config = { inputShape: [12, 12, 1] as [number, number, number], classes: 3, seed: 5 };
      const model = build(config);
      const opt = new Adam(model.parameters(), { lr: 0.01 });
      trainSteps(model, opt, 3);
      const path = join(dir, `${build.name}.safetensors`);
      await saveCheckpoint(path, model, { optimizer: opt, metadata: { note: 'test' } });
      const before = await predict(model);

      const loaded = await loadCheckpoint(path);
      expect(loaded.metadata.note).toBe('test');
      expect(Array.from(await predict(loaded.model))).toEqual(Array.from(before));

      // Resume: the same further steps on both give the same weights, bit for bit.
      const opt2 = new Adam(loaded.model.parameters(), { lr: 0.01 });
      await opt2.loadStateDict(loaded.optimizerState);
      trainSteps(model, opt, 2);
      trainSteps(loaded.model, opt2, 2);
      expect(Array.from(await predict(loaded.model))).toEqual(Array.from(await predict(model)));
    });
  }

  it('a truncated or foreign file gives a FormatError and the previous checkpoint survives a failed save', async () => {
    const model = resnet({ inputShape: [12, 12, 1], classes: 3, widths: [4], blocks: [1] });
    const path = join(dir, 'good.safetensors');
    await saveCheckpoint(path, model);
    const bytes = readFileSync(path);
    writeFileSync(join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length - 10));
    await expect(loadCheckpoint(join(dir, 'cut.safetensors'))).rejects.toThrow(FormatError);
    await expect(saveCheckpoint(join(dir, 'missing-dir', 'x.safetensors'), model)).rejects.toThrow();
    // A save that fails mid-way (a disposed tensor cannot be read) leaves the old file as it was.
    const broken = resnet({ inputShape: [12, 12, 1], classes: 3, widths: [4], blocks: [1] });
    broken.head.weight.dispose();
    await expect(saveCheckpoint(path, broken)).rejects.toThrow();
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect((await loadCheckpoint(path)).model.parameterCount()).toBe(model.parameterCount());
  });
});
