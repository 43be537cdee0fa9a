// The bad-input catalogue of the `webgrad` command, for what is refused before any device opens: help of every
// subcommand on stdout, the version, bad flag values, a malformed augmentation spec, unreadable checkpoints.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../src/cli/commands/eval.js';
import { trainCommand } from '../../src/cli/commands/train.js';
import { transferCommand } from '../../src/cli/commands/transfer.js';
import { loadDataset } from '../../src/cli/datasets.js';
import { PNG } from 'pngjs';
import { ensureCliBuilt, runCli } from '../cli.js';

let work = '';
const webgrad = (...args: string[]) => runCli(work, ...args);

beforeAll(() => {
  ensureCliBuilt();
  work = mkdtempSync(join(tmpdir(), 'webgrad-cli-bad-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The run failed with status 1 and exactly one line on stderr, `webgrad: error: ...` matching `pattern`. */
function expectOneErrorLine(run: ReturnType<typeof runCli>, pattern: RegExp): void {
  expect(run.status, run.stderr).toBe(1);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n').filter((l) => l !== '' && !/artificially reduced/.test(l));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^webgrad: error: /);
  expect(lines[0]).toMatch(pattern);
}

describe('help and version go to stdout, for every subcommand', () => {
  for (const command of [trainCommand, evalCommand, transferCommand]) {
    it(`webgrad ${command.name} --help and webgrad help ${command.name} list every flag (-h too)`, () => {
      for (const args of [
        [command.name, '--help'],
        ['help', command.name],
        [command.name, '-h'],
      ]) {
        const run = webgrad(...args);
        expect(run.status, run.stderr).toBe(0);
        expect(run.stderr).toBe('');
        expect(run.stdout).toMatch(new RegExp(`^usage: webgrad ${command.name} \\[options\\]`));
        for (const flag of command.flags) expect(run.stdout).toContain(`--${flag.name}`);
        for (const common of ['--quiet', '--check-finite', '--help']) expect(run.stdout).toContain(common);
      }
    });
  }

  it('--version and -v print the version alone; the top-level help names every command', () => {
    for (const flag of ['--version', '-v']) {
      const run = webgrad(flag);
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^webgrad \d+\.\d+\.\d+\n$/);
      expect(run.stderr).toBe('');
    }
    const top = webgrad('--help');
    for (const name of ['train', 'eval', 'transfer'])
      expect(top.stdout).toMatch(new RegExp(`\\n\\s+${name} `));
  });
});

describe('bad values are one line on stderr, status 1, before any data is loaded', () => {
  const cases: [string[], RegExp][] = [
    [['train', '--lr', 'NaN'], /--lr must be a positive number, got 'NaN'/],
    [['train', '--lr', '0'], /--lr must be a positive number, got '0'/],
    [['train', '--batch-size', '0'], /--batch-size must be an integer >= 1, got '0'/],
    [['train', '--seed', '1.5'], /--seed must be an integer >= 0, got '1.5'/],
    [['train', '--workers', '-1'], /--workers must be an integer >= 0, got '-1'/],
    [['train', '--limit', '0'], /--limit must be an integer >= 1, got '0'/],
    [['train', '--quiet', '--bogus'], /unknown option '--bogus' for 'train'/],
    // Checked before MNIST is loaded and the device opened (it used to fail after both).
    [['train', '--augment', 'bogus'], /augment: step 0: 'bogus' is neither a preset .* nor a kind/],
    [['train', '--augment', 'crop:pad=x'], /step 0 \(crop\): 'pad=x' is not a number/],
    [['transfer', '--arch', 'resnet19'], /--arch must be one of resnet18, resnet34, resnet50, googlenet/],
    [['eval', '--tta', '3crop'], /--tta must be one of none, flip, 5crop, 10crop, got '3crop'/],
  ];
  for (const [args, pattern] of cases) {
    it(`webgrad ${args.join(' ')}`, () => {
      const started = performance.now();
      expectOneErrorLine(webgrad(...args), pattern);
      // Nothing was loaded: MNIST alone takes seconds.
      expect(performance.now() - started).toBeLessThan(10_000);
    });
  }

  it('an --out under a file: a FileError naming the path, before any data is loaded or a run is spent', () => {
    writeFileSync(join(work, 'plain-file'), 'x');
    for (const command of [['train'], ['transfer', '--from', 'x.pth', '--dataset', 'photos']]) {
      const started = performance.now();
      expectOneErrorLine(
        webgrad(...command, '--out', 'plain-file/run'),
        new RegExp(
          `${command[0]} --out: cannot access 'plain-file/run': a component of the path is not a directory \\(ENOTDIR\\)`,
        ),
      );
      expect(performance.now() - started).toBeLessThan(10_000);
    }
  });

  it('a checkpoint that is a directory or not a safetensors file: FileError / FormatError naming the path', () => {
    expectOneErrorLine(
      webgrad('eval', '--checkpoint', tmpdir()),
      /loadCheckpoint: cannot access '.*': is a directory \(EISDIR\)/,
    );
    writeFileSync(join(work, 'notes.safetensors'), 'these are notes, not weights\n');
    expectOneErrorLine(
      webgrad('eval', '--checkpoint', 'notes.safetensors', '--quiet'),
      /notes\.safetensors: not a valid safetensors file/,
    );
  });
});

/** `dir/<split>/<class>/<i>.png` for every split and class, `count` 4x4 images each. */
function imageFolder(dir: string, splits: Record<string, string[]>, count: number): void {
  for (const [split, classes] of Object.entries(splits)) {
    for (const name of classes) {
      mkdirSync(join(dir, split, name), { recursive: true });
      for (let i = 0; i < count; i++) {
        writeFileSync(join(dir, split, name, `${i}.png`), PNG.sync.write(new PNG({ width: 4, height: 4 })));
      }
    }
  }
}

describe('image folders whose splits would be scored wrongly', () => {
  it('train/ and test/ with other class subfolders are refused (labels are positions in the class list)', () => {
    imageFolder(join(work, 'mismatch'), { train: ['cat', 'dog', 'fox'], test: ['dog', 'fox'] }, 2);
    expectOneErrorLine(
      webgrad('train', '--dataset', 'mismatch'),
      /--dataset 'mismatch': train\/ has the classes \(cat, dog, fox\) but test\/ has \(dog, fox\); both need the same class subfolders/,
    );
  });

  it('--limit on a folder keeps every class (a folder lists its classes one after another)', async () => {
    imageFolder(join(work, 'three'), { train: ['a', 'b', 'c'], test: ['a', 'b', 'c'] }, 5);
    const limited = await loadDataset(join(work, 'three'), 'train', { limit: 6, seed: 0 });
    expect(Array.from(limited.labels)).toEqual([0, 0, 1, 1, 2, 2]);
    const one = await loadDataset(join(work, 'three'), 'test', { limit: 4, seed: 0 });
    expect(Array.from(one.labels)).toEqual([0, 0, 1, 2]);
  });
});
