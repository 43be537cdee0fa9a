// `webgrad train --augment/--workers/--prefetch` from the built package: summary, errors, exit on errors and Ctrl-C.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, ensureCliBuilt, runCli } from '../cli.js';

let work = '';

function webgrad(...args: string[]) {
  return runCli(work, ...args);
}

beforeAll(() => {
  ensureCliBuilt();
  work = mkdtempSync(join(tmpdir(), 'webgrad-cli-augment-'));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('train --augment', () => {
  it('trains MNIST with --augment digits in 2 workers and reports dataWaitFraction', () => {
    const run = webgrad(
      'train',
      '--limit',
      '96',
      '--epochs',
      '1',
      '--batch-size',
      '32',
      '--width',
      '4',
      '--augment',
      'digits',
      '--workers',
      '2',
      '--prefetch',
      '3',
      '--json',
      '--out',
      join(work, 'run'),
    );
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim());
    expect(summary.dataWaitFraction).toBeGreaterThanOrEqual(0);
    expect(summary.dataWaitFraction).toBeLessThan(1);
    expect(summary.imagesPerSecond).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/data wait \d/);
  });

  it('a bad spec is one error line naming the step and parameter', () => {
    const run = webgrad('train', '--limit', '8', '--augment', 'flip:p=3', '--out', join(work, 'bad'));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /webgrad: error: augment: step 0 \(flip\): 'p' must be a number >= 0 and <= 1, got 3/,
    );
  });

  it('a corrupt image in a streamed folder fails the run naming the file, and the process exits', () => {
    const dir = join(work, 'folder');
    for (const split of ['train', 'test']) {
      for (const cls of ['a', 'b']) {
        mkdirSync(join(dir, split, cls), { recursive: true });
        for (let i = 0; i < 5; i++) {
          const png = new PNG({ width: 12, height: 12 });
          png.data.fill(20 * i + (cls === 'a' ? 0 : 100));
          writeFileSync(join(dir, split, cls, `${i}.png`), PNG.sync.write(png));
        }
      }
    }
    // Only the training split is broken: it is decoded in the workers, a batch at a time.
    writeFileSync(
      join(dir, 'train', 'a', '9-broken.png'),
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]),
    );
    const run = webgrad(
      'train',
      '--dataset',
      dir,
      '--epochs',
      '1',
      '--batch-size',
      '4',
      '--width',
      '4',
      '--workers',
      '2',
      '--out',
      join(work, 'broken'),
    );
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/webgrad: error: .*9-broken\.png/);
  });

  it('Ctrl-C (SIGINT) during training ends the process and its workers', async () => {
    const child = spawn(
      process.execPath,
      [
        CLI_BIN,
        'train',
        '--limit',
        '4000',
        '--epochs',
        '5',
        '--augment',
        'digits',
        '--workers',
        '2',
        '--out',
        join(work, 'int'),
      ],
      { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/epoch 1\/5/.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    const ended = await new Promise<{ code: number | null; signal: string | null }>((done) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        done({ code, signal });
      });
    });
    expect(ended.signal ?? ended.code, stderr).not.toBe('SIGKILL');
    expect(ended.signal === 'SIGINT' || ended.code !== 0, stderr).toBe(true);
  });
});
