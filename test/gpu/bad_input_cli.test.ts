// The bad-input catalogue of `webgrad eval` where a checkpoint is needed: a test set whose classes are not the ones
// the checkpoint was trained on is refused instead of scored against the wrong labels.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resnet, saveCheckpoint } from '../../src/index.js';
import { useGpu } from '../helpers.js';
import { ensureCliBuilt, runCli } from '../cli.js';

useGpu();
let work = '';

beforeAll(() => {
  ensureCliBuilt();
  work = mkdtempSync(join(tmpdir(), 'webgrad-cli-eval-bad-'));
  for (const split of ['train', 'test']) {
    for (const name of ['cat', 'dog']) {
      mkdirSync(join(work, 'pets', split, name), { recursive: true });
      writeFileSync(
        join(work, 'pets', split, name, '0.png'),
        PNG.sync.write(new PNG({ width: 8, height: 8 })),
      );
    }
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('webgrad eval checks the classes a checkpoint was trained on', () => {
  it('other class names in the same count are refused; the same ones are scored', async () => {
    const model = () => resnet({ inputShape: [8, 8, 1], classes: 2, widths: [2], blocks: [1] });
    const save = (file: string, classes: string[]) =>
      saveCheckpoint(join(work, file), model(), {
        metadata: { dataset: 'pets', classes: JSON.stringify(classes) },
      });
    await save('other.safetensors', ['ant', 'bee']);
    await save('same.safetensors', ['cat', 'dog']);
    const refused = runCli(work, 'eval', '--checkpoint', 'other.safetensors', '--quiet');
    expect(refused.status).toBe(1);
    expect(
      refused.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('webgrad:')),
    ).toEqual([
      "webgrad: error: checkpoint 'other.safetensors' was trained on the classes (ant, bee), but the test split of pets has (cat, dog)",
    ]);
    const scored = runCli(work, 'eval', '--checkpoint', 'same.safetensors', '--json', '--quiet');
    expect(scored.status, scored.stderr).toBe(0);
    expect(JSON.parse(scored.stdout).images).toBe(2);
  });
});
