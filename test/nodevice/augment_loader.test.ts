// The batch loader: bit-identical batches for 0, 1 and 3 workers, streamed folders, errors, shutdown, no leaks.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchLoader, type HostBatch } from '../../src/augment/index.js';
import { listImageFolder, loadImageFolder } from '../../src/data/folder.js';
import { DisposedError, FormatError, type data } from '../../src/index.js';
import { seeded } from '../helpers.js';

const root = resolve(__dirname, '..', '..');

function synthetic(n: number, h: number, w: number, c: number): data.Dataset {
  const images = seeded(n * h * w * c, 11).map((v) => (v + 1) / 2);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 5);
  return { images, labels, shape: [h, w, c], classes: ['a', 'b', 'c', 'd', 'e'], length: n };
}

async function drain(loader: BatchLoader): Promise<HostBatch[]> {
  const out: HostBatch[] = [];
  try {
    for (let b = await loader.next(); b; b = await loader.next()) {
      // Copies: a batch's views are valid until the next next().
      out.push({ ...b, images: b.images.slice(), labels: b.labels.slice(), mixLabels: b.mixLabels.slice() });
    }
  } finally {
    await loader.close();
  }
  return out;
}

const SPEC =
  'crop:pad=2,mode=reflect;flip;affine:degrees=15,translate=0.1,scale=0.9..1.1,shear=5;jitter:brightness=0.2,contrast=0.2;erase:p=0.5;mixup:alpha=0.4;cutmix:alpha=1';

describe('BatchLoader', () => {
  const ds = synthetic(45, 9, 8, 3);

  it('0, 1 and 3 workers give bit-identical batches in order, across epochs, with every transform', async () => {
    const runs: HostBatch[][] = [];
    for (const workers of [0, 1, 3]) {
      runs.push(
        await drain(
          await BatchLoader.open(ds, {
            batchSize: 8,
            epochs: 2,
            augment: SPEC,
            workers,
            prefetch: 3,
            seed: 5,
          }),
        ),
      );
    }
    expect(runs[0].length).toBe(12);
    expect(runs[0].map((b) => [b.epoch, b.step, b.size])).toEqual(
      Array.from({ length: 12 }, (_, j) => [Math.floor(j / 6) + 1, j % 6, j % 6 === 5 ? 5 : 8]),
    );
    for (const other of runs.slice(1)) {
      expect(other.length).toBe(runs[0].length);
      other.forEach((b, j) => {
        expect(Buffer.from(b.images.buffer).equals(Buffer.from(runs[0][j].images.buffer)), `batch ${j}`).toBe(
          true,
        );
        expect(b.labels).toEqual(runs[0][j].labels);
        expect(b.mixLabels).toEqual(runs[0][j].mixLabels);
        expect(b.lambda).toBe(runs[0][j].lambda);
      });
    }
    // The augmentation did something, and mixing happened somewhere.
    expect(runs[0].some((b) => b.lambda < 1)).toBe(true);
  });

  it('without a spec it serves the shuffled images unchanged (what fit trained on before)', async () => {
    const batches = await drain(
      await BatchLoader.open(ds, { batchSize: 16, epochs: 1, workers: 2, seed: 1 }),
    );
    const per = 9 * 8 * 3;
    const { batchIndices } = await import('../../src/data/dataset.js');
    const order = batchIndices(ds.length, 16, { shuffle: true, seed: 1001 });
    batches.forEach((b, s) =>
      order[s].forEach((item, i) => {
        expect(b.images.subarray(i * per, (i + 1) * per)).toEqual(
          ds.images.subarray(item * per, (item + 1) * per),
        );
        expect(b.labels[i]).toBe(ds.labels[item]);
      }),
    );
  });

  it('checks its options and spec before starting workers', async () => {
    await expect(BatchLoader.open(ds, { batchSize: 0, epochs: 1 })).rejects.toThrow(
      /'batchSize' must be an integer >= 1/,
    );
    await expect(BatchLoader.open(ds, { batchSize: 4, epochs: 1, prefetch: 0 })).rejects.toThrow(
      /'prefetch'/,
    );
    await expect(BatchLoader.open(ds, { batchSize: 4, epochs: 1, augment: 'blur' })).rejects.toThrow(
      /'blur' is neither/,
    );
    await expect(BatchLoader.open(ds, { batchSize: 4, epochs: 1, worker: 2 } as never)).rejects.toThrow(
      /unknown option 'worker'/,
    );
  });

  it('next() after close() is a DisposedError', async () => {
    const loader = await BatchLoader.open(ds, { batchSize: 4, epochs: 3, workers: 2 });
    expect(await loader.next()).not.toBeNull();
    await loader.close();
    await expect(loader.next()).rejects.toThrow(DisposedError);
  });
});

describe('streamed image folders', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'webgrad-augment-'));
    for (const cls of ['cat', 'dog']) {
      mkdirSync(join(dir, cls));
      for (let i = 0; i < 6; i++) {
        const png = new PNG({ width: 10, height: 7 });
        for (let p = 0; p < png.data.length; p++) png.data[p] = (p * 7 + i * 31 + cls.length) % 256;
        writeFileSync(join(dir, cls, `${i}.png`), PNG.sync.write(png));
      }
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decoding in workers gives the batches of the folder loaded into memory', async () => {
    const options = { size: [6, 5] as [number, number], channels: 3 as const };
    const inMemory = await drain(
      await BatchLoader.open(await loadImageFolder(dir, options), {
        batchSize: 5,
        epochs: 2,
        augment: 'standard',
        workers: 0,
      }),
    );
    const streamed = await drain(
      await BatchLoader.open(await listImageFolder(dir, options), {
        batchSize: 5,
        epochs: 2,
        augment: 'standard',
        workers: 2,
      }),
    );
    expect(streamed.length).toBe(6);
    streamed.forEach((b, j) => {
      expect(b.images).toEqual(inMemory[j].images);
      expect(b.labels).toEqual(inMemory[j].labels);
    });
  });

  it('a corrupt image fails the run with a FormatError naming the file, for 0 and 2 workers', async () => {
    const bad = join(dir, 'dog', 'zz-corrupt.png');
    writeFileSync(bad, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
    try {
      for (const workers of [0, 2]) {
        const index = await listImageFolder(dir, { size: [4, 4], channels: 1 });
        const loader = await BatchLoader.open(index, { batchSize: 4, epochs: 1, workers, shuffle: false });
        const error = await drain(loader).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, `workers ${workers}`).toBeInstanceOf(FormatError);
        expect(String((error as Error).message)).toContain('zz-corrupt.png');
      }
    } finally {
      rmSync(bad);
    }
  });
});

describe('worker shutdown', () => {
  // In a child process: the process must exit on its own once the loader is closed, after success or failure.
  const run = (body: string) => {
    const file = join(mkdtempSync(join(tmpdir(), 'webgrad-leak-')), 'main.mts');
    writeFileSync(
      file,
      `import { BatchLoader } from ${JSON.stringify(join(root, 'src/augment/index.ts'))};
const ds = { images: new Float32Array(40 * 16), labels: new Int32Array(40), shape: [4, 4, 1], classes: ['a'], length: 40 };
${body}
`,
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    rmSync(resolve(file, '..'), { recursive: true, force: true });
    return child;
  };

  it('the process exits after a loader is closed mid-stream', () => {
    const child =
      run(`const l = await BatchLoader.open(ds, { batchSize: 4, epochs: 5, workers: 3, augment: 'standard' });
await l.next(); await l.next(); await l.close(); console.log('closed');`);
    expect(child.error).toBeUndefined();
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toContain('closed');
  });

  it('the process exits after a failed run that closes its loader', () => {
    const child =
      run(`const l = await BatchLoader.open({ ...ds, images: new Float32Array(7) }, { batchSize: 4, epochs: 1, workers: 2 }).catch((e) => e);
console.log(l instanceof Error ? 'refused: ' + l.message : 'opened');
const k = await BatchLoader.open(ds, { batchSize: 4, epochs: 1, workers: 2 });
try { await k.next(); throw new Error('boom'); } catch (e) { console.log('caught ' + e.message); } finally { await k.close(); }`);
    expect(child.error).toBeUndefined();
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toContain('caught boom');
  });
});
