// `webgrad train --ensemble` and `webgrad eval` with several checkpoints and --tta, end to end on a small folder.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resnet, saveCheckpoint } from '../../src/index.js';
import { useGpu } from '../helpers.js';
import { ensureCliBuilt, runCli } from '../cli.js';

useGpu();
let work = '';

function webgrad(...args: string[]) {
  return runCli(work, ...args);
}

function json(run: ReturnType<typeof webgrad>) {
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!);
}

beforeAll(() => {
  ensureCliBuilt();
  work = mkdtempSync(join(tmpdir(), 'webgrad-tta-'));
  // Two classes, bright left half vs bright right half (a mirror turns one into the other: flips are wrong
  // for them, which the test does not rely on), train/ and test/ subfolders.
  for (const [split, count] of [
    ['train', 12],
    ['test', 6],
  ] as const) {
    for (const [k, name] of ['left', 'right'].entries()) {
      mkdirSync(join(work, 'halves', split, name), { recursive: true });
      for (let i = 0; i < count; i++) {
        const png = new PNG({ width: 16, height: 16 });
        for (let p = 0; p < 256; p++) {
          const bright = p % 16 < 8 === (k === 0);
          const v = bright ? 180 + ((p * 7 + i) % 70) : (p * 3 + i) % 60;
          png.data.set([v, v, v, 255], p * 4);
        }
        writeFileSync(join(work, 'halves', split, name, `${i}.png`), PNG.sync.write(png));
      }
    }
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

const trainArgs = ['--dataset', 'halves', '--epochs', '2', '--batch-size', '8', '--width', '2', '--quiet'];

describe('train --ensemble and eval with several checkpoints', () => {
  it('trains K members with consecutive seeds, each the same run as train --seed, and scores the ensemble', () => {
    const summary = json(
      webgrad('train', ...trainArgs, '--ensemble', '2', '--seed', '3', '--out', 'ens', '--json'),
    );
    expect(summary.ensemble).toBe(2);
    expect(summary.members.map((m: { seed: number }) => m.seed)).toEqual([3, 4]);
    for (const key of ['testAccuracy', 'testLoss', 'seconds']) expect(typeof summary[key]).toBe('number');
    const single = json(webgrad('train', ...trainArgs, '--seed', '4', '--out', 'single', '--json'));
    expect(readFileSync(join(work, 'ens', 'member-1', 'checkpoint.safetensors'))).toEqual(
      readFileSync(join(work, single.checkpoint)),
    );
    expect(summary.members[1].testAccuracy).toBe(single.testAccuracy);

    const [a, b] = summary.members.map((m: { checkpoint: string }) => m.checkpoint);
    const both = json(
      webgrad('eval', '--checkpoint', a, '--checkpoint', b, '--tta', '10crop', '--json', '--quiet'),
    );
    expect(both.members.map((m: { checkpoint: string }) => m.checkpoint)).toEqual([a, b]);
    for (const key of ['testAccuracy', 'testLoss', 'imagesPerSecond'])
      expect(typeof both[key]).toBe('number');
    expect(both).toMatchObject({ tta: '10crop', ttaCrop: 28, ttaPad: 2, combine: 'mean-prob', images: 12 });
    // Each member's score in the ensemble run is its score alone with the same views.
    for (const [i, path] of [a, b].entries()) {
      const alone = json(webgrad('eval', '--checkpoint', path, '--tta', '10crop', '--json', '--quiet'));
      expect(alone.members).toBeUndefined();
      expect(both.members[i].testAccuracy).toBe(alone.testAccuracy);
      expect(both.members[i].testLoss).toBeCloseTo(alone.testLoss, 5);
    }
    // Without tta, the mean-prob ensemble is the one train --ensemble scored.
    const plain = json(webgrad('eval', '--checkpoint', a, '--checkpoint', b, '--json', '--quiet'));
    expect(plain.testAccuracy).toBe(summary.testAccuracy);
    expect(plain.testLoss).toBeCloseTo(summary.testLoss, 5);
    const voted = webgrad('eval', '--checkpoint', a, '--checkpoint', b, '--combine', 'vote', '--tta', 'flip');
    expect(voted.status, voted.stderr).toBe(0);
    expect(voted.stdout).toMatch(
      /test accuracy [\d.]+%, loss [\d.]+ \(2 members, vote\), tta flip; \d+ images\/s/,
    );
  });

  it('names the checkpoint when members predict different class counts, and refuses misplaced flags', async () => {
    await saveCheckpoint(join(work, 'two.safetensors'), resnet({ widths: [2], blocks: [1], classes: 2 }), {
      metadata: { dataset: 'halves' },
    });
    await saveCheckpoint(join(work, 'three.safetensors'), resnet({ widths: [2], blocks: [1], classes: 3 }), {
      metadata: { dataset: 'halves' },
    });
    const cases: [string[], RegExp][] = [
      [
        ['--checkpoint', 'two.safetensors', '--checkpoint', 'three.safetensors'],
        /checkpoint 'three.safetensors' predicts 3 classes, 'two.safetensors' 2: an ensemble's members must predict the same classes/,
      ],
      [
        ['--checkpoint', 'two.safetensors', '--tta', 'flip', '--tta-pad', '1'],
        /--tta-pad applies to --tta 5crop or 10crop only/,
      ],
      [
        ['--checkpoint', 'two.safetensors', '--tta', '10crop', '--tta-crop', '40'],
        /tenCrop: the 40x40 crop is larger than the 28x28 image padded by 2/,
      ],
      [
        ['--checkpoint', 'two.safetensors', '--tta', '12crop'],
        /--tta must be one of none, flip, 5crop, 10crop/,
      ],
      [['--tta', 'flip'], /eval needs --checkpoint FILE/],
    ];
    for (const [args, message] of cases) {
      const run = webgrad('eval', ...args);
      expect(run.status, args.join(' ')).toBe(1);
      expect(run.stderr).toMatch(message);
      // No JavaScript stack trace (Dawn may print its own warnings, with C++ frames).
      expect(run.stderr).not.toMatch(/\n\s+at .*\.[jt]s:\d+/);
    }
    mkdirSync(join(work, 'flat', 'a'), { recursive: true });
    const flat = webgrad('train', '--dataset', 'flat', '--ensemble', '2');
    expect(flat.stderr).toMatch(
      /--ensemble needs mnist, fashion-mnist or a folder with train\/ and test\/ subfolders/,
    );
  });
});
