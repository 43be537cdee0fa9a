// `webgrad transfer` end to end: a torchvision ResNet-18 file from disk onto a folder of RGB images, cached
// features, the merged checkpoint read by `webgrad eval`; and from a webgrad checkpoint on MNIST.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { torchFixtures, torchMissing } from '../torch.js';
import { ensureCliBuilt, runCli } from '../cli.js';

const root = resolve(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'webgrad-transfer-cli-'));

function webgrad(...args: string[]) {
  return runCli(work, ...args);
}

/** Two classes of 40x40 RGB PNGs: reddish and bluish noise. */
function writeFolder(dir: string): void {
  let s = 7;
  const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const [k, cls] of ['red', 'blue'].entries()) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (let i = 0; i < 15; i++) {
      const png = new PNG({ width: 40, height: 40 });
      for (let p = 0; p < 40 * 40; p++) {
        png.data[p * 4 + (k === 0 ? 0 : 2)] = 150 + rand() * 100;
        png.data[p * 4 + 1] = rand() * 120;
        png.data[p * 4 + (k === 0 ? 2 : 0)] = rand() * 80;
        png.data[p * 4 + 3] = 255;
      }
      writeFileSync(join(dir, cls, `${i}.png`), PNG.sync.write(png));
    }
  }
}

beforeAll(() => {
  ensureCliBuilt();
});

describe.skipIf(torchMissing)('webgrad transfer from a torchvision file', () => {
  it(
    'trains a new head on cached features of RGB folder images and eval reads the result',
    { timeout: 600_000 },
    () => {
      const weights = join(torchFixtures('models', 'resnet18'), 'resnet18.pth');
      const folder = join(work, 'photos');
      writeFolder(folder);
      const args = [
        'transfer',
        '--from',
        weights,
        '--arch',
        'resnet18',
        '--dataset',
        folder,
        '--image-size',
        '32',
        '--epochs',
        '3',
        '--out',
        'run',
        '--json',
      ];
      const r = webgrad(...args);
      expect(r.status, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(summary.upTo).toBe('avgpool');
      expect(summary.cacheReused).toBe(false);
      expect(summary.cacheSeconds).toBeGreaterThan(0);
      expect((summary.history as unknown[]).length).toBe(3);
      for (const k of ['testAccuracy', 'testLoss', 'seconds']) expect(typeof summary[k]).toBe('number');
      expect(existsSync(join(work, 'run', 'features', 'manifest.json'))).toBe(true);

      const again = JSON.parse(webgrad(...args).stdout) as Record<string, unknown>;
      expect(again.cacheReused).toBe(true);
      expect(again.testAccuracy).toBe(summary.testAccuracy);

      const e = webgrad('eval', '--checkpoint', join('run', 'checkpoint.safetensors'), '--json');
      expect(e.status, e.stderr).toBe(0);
      const evaluated = JSON.parse(e.stdout) as Record<string, unknown>;
      expect(evaluated.testAccuracy).toBe(summary.testAccuracy);
      expect(Math.abs((evaluated.testLoss as number) - (summary.testLoss as number))).toBeLessThan(1e-4);
    },
  );

  it('says what is wrong with bad flags', () => {
    expect(webgrad('transfer', '--dataset', 'mnist').stderr).toMatch(/--from is required/);
    const r = webgrad('transfer', '--from', join(root, 'package.json'), '--dataset', 'mnist');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/webgrad: error: /);
  });
});
