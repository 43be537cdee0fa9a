// What batches are made of (images in memory or a listed image folder) and the one function that fills a batch.
import type { Dataset } from '../data/dataset.js';
import { readFolderImage, type ImageFolderIndex } from '../data/folder.js';
import { ArgumentError } from '../errors.js';
import type { Augmenter, BatchKey, BatchOut } from './pipeline.js';

/** Images held in memory (their buffer may be a SharedArrayBuffer that every worker reads). */
export interface MemorySource {
  kind: 'memory';
  images: Float32Array;
  labels: Int32Array;
  shape: [number, number, number];
  length: number;
}

/** A batch loader's input: a dataset in memory, or an image folder decoded a batch at a time. */
export type ImageSource = MemorySource | ImageFolderIndex;

/** A Dataset as a source (no copy). */
export function memorySource(ds: Dataset): MemorySource {
  return { kind: 'memory', images: ds.images, labels: ds.labels, shape: ds.shape, length: ds.length };
}

/** One slot's views over its ArrayBuffer: images [B*H*W*C] f32, then labels [B] and mixLabels [B] i32. */
export function slotViews(buffer: ArrayBuffer, batchSize: number, per: number): BatchOut {
  const imageBytes = batchSize * per * 4;
  return {
    images: new Float32Array(buffer, 0, batchSize * per),
    labels: new Int32Array(buffer, imageBytes, batchSize),
    mixLabels: new Int32Array(buffer, imageBytes + batchSize * 4, batchSize),
  };
}

/** Bytes of one slot. */
export function slotBytes(batchSize: number, per: number): number {
  return batchSize * per * 4 + 2 * batchSize * 4;
}

/**
 * Fills `out` with the images at `indices` (read or decoded), augments each and mixes the batch; the result
 * depends only on the source, the spec, `indices` and `key`. Returns the mix weight (1 without mixup/cutmix).
 * Errors: FormatError naming an image that cannot be decoded.
 */
export async function fillBatch(
  source: ImageSource,
  augmenter: Augmenter,
  indices: Int32Array,
  key: BatchKey,
  out: BatchOut,
): Promise<number> {
  const per = augmenter.per;
  for (const item of indices) {
    if (!Number.isInteger(item) || item < 0 || item >= source.length)
      throw new ArgumentError(`augment: image index ${item} outside [0, ${source.length})`);
  }
  if (source.kind === 'memory') {
    indices.forEach((item, b) =>
      out.images.set(source.images.subarray(item * per, (item + 1) * per), b * per),
    );
  } else {
    await Promise.all(Array.from(indices, (item, b) => readFolderImage(source, item, out.images, b * per)));
  }
  indices.forEach((item, b) => {
    out.labels[b] = source.labels[item];
    augmenter.image(out, b, key);
  });
  return augmenter.mix(out, indices.length, key);
}
