// The `webgrad` command end to end: argument errors as one line, a short training run, eval of its checkpoint.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { ensureCliBuilt, runCli } from '../cli.js';

const root = resolve(__dirname, '..', '..');
let work = '';

function webgrad(...args: string[]) {
  return runCli(work, ...args);
}

beforeAll(() => {
  ensureCliBuilt();
  work = mkdtempSync(join(tmpdir(), 'webgrad-cli-'));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('argument errors', () => {
  const cases: [string[], RegExp][] = [
    [['train', '--model', 'vgg'], /--model must be one of resnet, inception, got 'vgg'/],
    [['train', '--epochs', '0'], /--epochs must be an integer >= 1, got '0'/],
    [['train', '--dataset', 'no/such/folder'], /is neither mnist, fashion-mnist nor an existing folder/],
    [['train', '--lr', 'fast'], /--lr must be a positive number/],
    [['train', '--bogus'], /unknown option '--bogus'/],
    [['train', '--model', 'inception', '--width', '16'], /--width applies to --model resnet only/],
    [
      ['train', '--image-size', '32'],
      /--image-size and --channels apply to image folders; mnist is 28x28 grayscale/,
    ],
    [['train', '--channels', '2'], /--channels must be one of 1, 3, got '2'/],
    [['train', '--ensemble', '2', '--profile'], /--profile times one model: it does not apply to --ensemble/],
    [['fly'], /unknown command 'fly'/],
    [['eval'], /eval needs --checkpoint FILE/],
    [['eval', '--checkpoint', 'missing.safetensors'], /checkpoint 'missing.safetensors' does not exist/],
  ];
  for (const [args, message] of cases) {
    it(`webgrad ${args.join(' ')}`, () => {
      const run = webgrad(...args);
      expect(run.status).toBe(1);
      const lines = run.stderr.split('\n').filter((l) => l.startsWith('webgrad:'));
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatch(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('webgrad eval --checkpoint missing --help prints the help instead of failing', () => {
    const run = webgrad('eval', '--checkpoint', 'missing', '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^usage: webgrad eval \[options\]/);
  });

  it('rejects a folder without images', () => {
    mkdirSync(join(work, 'empty', 'cats'), { recursive: true });
    const run = webgrad('train', '--dataset', join(work, 'empty'));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/webgrad: error: loadImageFolder: no .png\/.jpg\/.jpeg images/);
  });

  it('rejects a folder with a single class (it would report 100% and mean nothing)', () => {
    mkdirSync(join(work, 'one', 'cats'), { recursive: true });
    const png = new PNG({ width: 4, height: 4 });
    for (let i = 0; i < 5; i++) writeFileSync(join(work, 'one', 'cats', `${i}.png`), PNG.sync.write(png));
    const run = webgrad('train', '--dataset', join(work, 'one'));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /webgrad: error: --dataset '.*one' has 1 class subfolder \(cats\); a classifier needs at least two/,
    );
  });
});

describe('help and version', () => {
  it('prints the commands, the flags of each command and the version on stdout', () => {
    const top = webgrad('--help');
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/train +train a ResNet/);
    expect(top.stdout).toMatch(/eval +score a checkpoint/);
    const train = webgrad('train', '--help');
    expect(train.status).toBe(0);
    expect(train.stdout).toContain('--batch-size N');
    expect(train.stdout).toContain('(default 128)');
    expect(webgrad('help', 'eval').stdout).toContain('--checkpoint FILE');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const version = webgrad('--version');
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(`webgrad ${pkg.version}`);
  });
});

describe('training from an image folder', () => {
  it('trains, writes checkpoint, history and plot, and evaluates the checkpoint', () => {
    // Two classes: bright top half vs bright bottom half, 16 PNGs each.
    for (const [k, name] of ['top', 'bottom'].entries()) {
      mkdirSync(join(work, 'shapes', name), { recursive: true });
      for (let i = 0; i < 16; i++) {
        const png = new PNG({ width: 20, height: 20 });
        for (let p = 0; p < 400; p++) {
          const bright = p < 200 === (k === 0);
          const v = bright ? 200 + ((p * 7 + i) % 50) : (p * 3 + i) % 40;
          png.data.set([v, v, v, 255], p * 4);
        }
        writeFileSync(join(work, 'shapes', name, `${i}.png`), PNG.sync.write(png));
      }
    }
    const out = join(work, 'run');
    const run = webgrad(
      'train',
      '--dataset',
      join(work, 'shapes'),
      '--epochs',
      '10',
      '--batch-size',
      '8',
      '--lr',
      '0.01',
      '--out',
      out,
      '--seed',
      '3',
      '--json',
      '--profile',
    );
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(Object.keys(summary)).toEqual(
      expect.arrayContaining(['testAccuracy', 'testLoss', 'epochs', 'seconds', 'imagesPerSecond', 'adapter']),
    );
    expect(summary.epochs).toBe(10);
    expect(summary.testAccuracy).toBe(1);
    const history = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'));
    expect(history.length).toBe(10);
    expect(readFileSync(join(out, 'history.svg'), 'utf8')).toMatch(/^<svg/);
    // Progress and messages go to stderr; stdout holds the result alone.
    expect(run.stdout.trim().split('\n').length).toBe(1);
    expect(run.stderr).toMatch(/epoch 10\/10/);
    // --profile: after the checkpoint, one training step (on the 6 test images) timed kernel by kernel.
    expect(run.stderr).toMatch(
      /webgrad: profile of one training step, batch 6 \((kernel-by-kernel|timestamp-query)\)/,
    );
    expect(run.stderr).toMatch(/conv2d/);
    const evaluated = webgrad(
      'eval',
      '--checkpoint',
      join(out, 'checkpoint.safetensors'),
      '--json',
      '--quiet',
    );
    // eval holds out the images train held out with --seed 3 (the checkpoint records the seed).
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(evaluated.stderr).not.toMatch(/^webgrad:/m);
    const again = JSON.parse(evaluated.stdout.trim());
    expect(again.testAccuracy).toBe(summary.testAccuracy);
    expect(again.testLoss).toBeCloseTo(summary.testLoss, 6);
    const plain = webgrad('eval', '--checkpoint', join(out, 'checkpoint.safetensors'), '--quiet');
    expect(plain.stdout.trim()).toMatch(/test accuracy 100\.00%, loss \d/);
    // Members trained with other seeds held out other images of this folder: scoring them together is refused.
    const other = join(work, 'run-seed-4');
    const second = webgrad(
      'train',
      '--dataset',
      join(work, 'shapes'),
      '--epochs',
      '1',
      '--seed',
      '4',
      '--out',
      other,
      '--quiet',
    );
    expect(second.status, second.stderr).toBe(0);
    const mixed = webgrad(
      'eval',
      '--checkpoint',
      join(out, 'checkpoint.safetensors'),
      '--checkpoint',
      join(other, 'checkpoint.safetensors'),
    );
    expect(mixed.status).toBe(1);
    expect(mixed.stderr).toMatch(
      /webgrad: error: the checkpoints were trained with different --seed values \(3, 4\)/,
    );
  });
});

describe('RGB image folders at their own size', () => {
  it('train --image-size 12 --channels 3 trains on colour and eval reads the folder the same way', () => {
    // Two classes told apart by colour only (red vs blue, same brightness), so grayscale could not learn them.
    for (const [k, name] of ['red', 'blue'].entries()) {
      for (const split of ['train', 'test']) {
        mkdirSync(join(work, 'colours', split, name), { recursive: true });
        for (let i = 0; i < 6; i++) {
          const png = new PNG({ width: 20, height: 16 });
          for (let p = 0; p < 320; p++) {
            const v = 150 + ((p + i) % 50);
            png.data.set(k === 0 ? [v, 0, 0, 255] : [0, 0, v, 255], p * 4);
          }
          writeFileSync(join(work, 'colours', split, name, `${i}.png`), PNG.sync.write(png));
        }
      }
    }
    const args = ['--dataset', 'colours', '--epochs', '3', '--batch-size', '4', '--width', '2', '--json'];
    const run = webgrad('train', ...args, '--image-size', '12', '--channels', '3', '--out', 'rgb', '--quiet');
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    const { metadata } = decodeSafetensors(readFileSync(join(work, summary.checkpoint)));
    expect(JSON.parse(metadata.config).inputShape).toEqual([12, 12, 3]);
    const scored = webgrad('eval', '--checkpoint', summary.checkpoint, '--json', '--quiet');
    expect(scored.status, scored.stderr).toBe(0);
    const evaluation = JSON.parse(scored.stdout.trim().split('\n').at(-1)!);
    expect(evaluation.testLoss).toBeCloseTo(summary.testLoss, 5);
  });
});

describe('--check-finite', () => {
  it('stops a diverging run naming the first op that wrote NaN or Infinity; a sound run passes', () => {
    for (const [k, name] of ['dark', 'light'].entries()) {
      mkdirSync(join(work, 'tiny', name), { recursive: true });
      for (let i = 0; i < 4; i++) {
        const png = new PNG({ width: 8, height: 8 });
        for (let p = 0; p < 64; p++) png.data.set([k * 200 + i, k * 200 + i, k * 200 + i, 255], p * 4);
        writeFileSync(join(work, 'tiny', name, `${i}.png`), PNG.sync.write(png));
      }
    }
    const common = [
      'train',
      '--dataset',
      join(work, 'tiny'),
      '--epochs',
      '2',
      '--batch-size',
      '2',
      '--width',
      '4',
    ];
    const diverging = webgrad(...common, '--lr', '1e30', '--out', join(work, 'diverging'), '--check-finite');
    expect(diverging.status, diverging.stderr).toBe(1);
    const lines = diverging.stderr.split('\n').filter((l) => l.startsWith('webgrad: error:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^webgrad: error: checkFinite: \S+ \(op \d+ of the flush\) wrote (NaN|Infinity) to /,
    );
    // One line and nothing else: no stack trace, no unhandled rejection from reads abandoned on the way out.
    expect(diverging.stderr).not.toMatch(/\n\s+at |Unhandled|DisposedError/);
    const sound = webgrad(
      ...common,
      '--lr',
      '0.01',
      '--out',
      join(work, 'sound'),
      '--check-finite',
      '--quiet',
    );
    expect(sound.status, sound.stderr).toBe(0);
    expect(webgrad('train', '--help').stdout).toContain('--check-finite');
  });
});
