// Helpers the benchmark's row files share: seeded twin inputs for webgrad and tfjs, disposal, shape names.
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Wg from '../src/index.js';

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function fmt(shape: readonly number[]): string {
  return shape.join('x');
}

/** The same seeded values in [lo, hi) (default [-1, 1)) as a webgrad leaf and a tfjs tensor. */
export function pair(
  wg: typeof Wg,
  tf: typeof Tf,
  shape: number[],
  seed: number,
  requiresGrad = false,
  range: [number, number] = [-1, 1],
): { w: Wg.Tensor; t: Tf.Tensor } {
  const rng = new wg.Rng(seed);
  const [lo, hi] = range;
  const values = Float32Array.from({ length: size(shape) }, () => lo + rng.next() * (hi - lo));
  return { w: wg.tensor(values, shape, { requiresGrad }), t: tf.tensor(values, shape) };
}

/** Disposes webgrad and tfjs tensors alike. */
export function disposer(...tensors: { dispose(): void }[]): () => void {
  return () => tensors.forEach((t) => t.dispose());
}

/** Reads and clears a leaf's gradient, so the next iteration does not accumulate onto it. */
export function takeGrad(leaf: Wg.Tensor): Wg.Tensor {
  const g = leaf.grad!;
  leaf.grad = null;
  return g;
}
