// Browser page of the augmentation test: webgrad/augment bundled by vite with its worker, run in Chromium.
import { BatchLoader } from '../../src/augment/index.js';

/** Per batch: epoch, step, size, lambda and a checksum of the images, for workers 0 and `workers`. */
export async function runAugment(spec: string, workers: number): Promise<number[][][]> {
  const n = 20;
  const per = 12 * 12;
  const images = Float32Array.from({ length: n * per }, (_, i) => (i % 97) / 97);
  const ds = {
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 4),
    shape: [12, 12, 1] as [number, number, number],
    classes: ['a', 'b', 'c', 'd'],
    length: n,
  };
  const runs: number[][][] = [];
  for (const w of [0, workers]) {
    const loader = await BatchLoader.open(ds, {
      batchSize: 6,
      epochs: 2,
      augment: spec,
      workers: w,
      seed: 3,
    });
    const rows: number[][] = [];
    try {
      for (let b = await loader.next(); b; b = await loader.next()) {
        let sum = 0;
        for (const v of b.images) sum = sum * 1.0000001 + v;
        rows.push([b.epoch, b.step, b.size, b.lambda, sum, ...b.mixLabels]);
      }
    } finally {
      await loader.close();
    }
    runs.push(rows);
  }
  return runs;
}
