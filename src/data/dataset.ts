// In-memory image datasets (NHWC floats and int32 labels), normalization, and seeded mini-batches.
import { ArgumentError } from '../errors.js';
import { tensor } from '../graph/create.js';
import { Rng } from '../graph/random.js';
import type { Tensor } from '../graph/tensor.js';
import { checkInteger, checkOptionKeys } from '../options.js';

/** A labelled image set held on the host. */
export interface Dataset {
  /** N*H*W*C values, image-major, NHWC; in [0, 1] as loaded (normalize() shifts them). */
  images: Float32Array;
  /** N class indices into `classes`. */
  labels: Int32Array;
  /** [H, W, C] of one image. */
  shape: [number, number, number];
  classes: string[];
  /** N. */
  length: number;
}

export interface BatchOptions {
  /** Visit the items in a seeded random order (default false: dataset order). */
  shuffle?: boolean;
  /** Seed of the shuffle (default 0); use a different seed per epoch for a new order each epoch. */
  seed?: number;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

/** One mini-batch: device tensors (owned by the caller, who disposes them) and the host labels. */
export interface Batch {
  /** [B, H, W, C] float32. */
  x: Tensor;
  /** [B] int32 class indices. */
  y: Tensor;
  /** B (the last batch may be smaller unless dropLast). */
  size: number;
  /** The batch's labels on the host, for metrics without a readback. */
  labels: Int32Array;
}

/**
 * The item indices of each batch: dataset order, or a Fisher-Yates shuffle seeded by `seed` (the same on
 * every run and platform). Shapes: returns ceil(length / batchSize) arrays (floor with dropLast).
 */
export function batchIndices(length: number, batchSize: number, options: BatchOptions = {}): Int32Array[] {
  checkOptionKeys('batches', options, ['shuffle', 'seed', 'dropLast']);
  checkInteger('batches', 'batchSize', batchSize, 1);
  for (const key of ['shuffle', 'dropLast'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw new ArgumentError(
        `batches: option '${key}' must be a boolean, got ${JSON.stringify(options[key])}`,
      );
    }
  }
  if (options.seed !== undefined && !Number.isFinite(options.seed)) {
    throw new ArgumentError(`batches: option 'seed' must be a finite number, got ${options.seed}`);
  }
  const order = Array.from({ length }, (_, i) => i);
  if (options.shuffle) new Rng(options.seed ?? 0).shuffle(order);
  const out: Int32Array[] = [];
  for (let start = 0; start < length; start += batchSize) {
    const end = Math.min(start + batchSize, length);
    if (options.dropLast && end - start < batchSize) break;
    out.push(Int32Array.from(order.slice(start, end)));
  }
  return out;
}

/** Copies the items at `indices` into one contiguous image block and label array. Shapes: [B*H*W*C], [B]. */
export function gatherBatch(ds: Dataset, indices: Int32Array): { images: Float32Array; labels: Int32Array } {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  indices.forEach((item, b) => {
    if (item < 0 || item >= ds.length)
      throw new ArgumentError(`gatherBatch: index ${item} outside [0, ${ds.length})`);
    images.set(ds.images.subarray(item * per, (item + 1) * per), b * per);
    labels[b] = ds.labels[item];
  });
  return { images, labels };
}

/**
 * Yields mini-batches as device tensors, one upload per tensor per batch. The caller disposes x and y.
 * Shapes: x [B, H, W, C] float32, y [B] int32.
 */
export function* batches(ds: Dataset, batchSize: number, options: BatchOptions = {}): Generator<Batch> {
  const [h, w, c] = ds.shape;
  for (const indices of batchIndices(ds.length, batchSize, options)) {
    const { images, labels } = gatherBatch(ds, indices);
    yield {
      x: tensor(images, [indices.length, h, w, c]),
      y: tensor(labels, [indices.length], { dtype: 'int32' }),
      size: indices.length,
      labels,
    };
  }
}

/** Per-channel mean and (population) standard deviation over every pixel, in float64. Shapes: [C] each. */
export function channelStats(ds: Dataset): { mean: number[]; std: number[] } {
  const c = ds.shape[2];
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let i = 0; i < ds.images.length; i++) {
    const v = ds.images[i];
    sum[i % c] += v;
    sq[i % c] += v * v;
  }
  const count = ds.images.length / c;
  const mean = Array.from(sum, (s) => s / count);
  return { mean, std: Array.from(sq, (s, k) => Math.sqrt(Math.max(s / count - mean[k] ** 2, 0))) };
}

/**
 * A copy of the dataset with every pixel mapped to (x - mean[c]) / std[c]; a number applies to every channel.
 * Shapes: mean and std are numbers or arrays of length C.
 */
export function normalize(
  ds: Dataset,
  options: { mean: number | readonly number[]; std: number | readonly number[] },
): Dataset {
  checkOptionKeys('normalize', options, ['mean', 'std']);
  const c = ds.shape[2];
  const perChannel = (name: string, v: number | readonly number[]) => {
    const arr = typeof v === 'number' ? new Array<number>(c).fill(v) : [...v];
    if (arr.length !== c || arr.some((x) => !Number.isFinite(x))) {
      throw new ArgumentError(
        `normalize: '${name}' must be a finite number or ${c} finite numbers, got ${String(v)}`,
      );
    }
    return arr;
  };
  const mean = perChannel('mean', options.mean);
  const std = perChannel('std', options.std);
  if (std.some((s) => s <= 0))
    throw new ArgumentError(`normalize: 'std' must be positive, got ${std.join(', ')}`);
  const images = new Float32Array(ds.images.length);
  for (let i = 0; i < images.length; i++) images[i] = (ds.images[i] - mean[i % c]) / std[i % c];
  return { ...ds, images };
}
