// The benchmark's op rows: each op and pass at ResNet/Inception shapes, written once for webgrad and tfjs.
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Wg from '../src/index.js';
import { seeded, type Prepared, type RowSpec } from './harness.js';

const N = 8;

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fmt(shape: readonly number[]): string {
  return shape.join('x');
}

/** The same seeded values as a webgrad leaf and a tfjs tensor. */
function pair(
  wg: typeof Wg,
  tf: typeof Tf,
  shape: number[],
  seed: number,
  requiresGrad = false,
): { w: Wg.Tensor; t: Tf.Tensor; values: Float32Array } {
  const values = seeded(size(shape), seed);
  return { w: wg.tensor(values, shape, { requiresGrad }), t: tf.tensor(values, shape), values };
}

/** Disposes webgrad and tfjs tensors alike. */
function disposer(...tensors: { dispose(): void }[]): () => void {
  return () => tensors.forEach((t) => t.dispose());
}

/** Reads and clears a leaf's gradient, so the next iteration does not accumulate onto it. */
function takeGrad(leaf: Wg.Tensor): Wg.Tensor {
  const g = leaf.grad!;
  leaf.grad = null;
  return g;
}

function elementwiseRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const shape = [N, 32, 32, 64];
  const n = size(shape);
  return [
    {
      op: 'relu',
      pass: 'forward',
      shape: fmt(shape),
      flops: n,
      bytes: 8 * n,
      prepare(): Prepared {
        const x = pair(wg, tf, shape, 1);
        return {
          webgrad: () => wg.relu(x.w),
          tfjs: () => tf.relu(x.t),
          dispose: disposer(x.w, x.t),
        };
      },
    },
    {
      op: 'relu',
      pass: 'backward',
      shape: fmt(shape),
      flops: n,
      bytes: 12 * n,
      prepare(): Prepared {
        const x = pair(wg, tf, shape, 2, true);
        const dy = pair(wg, tf, shape, 3);
        // The forward output is held, as in training, so only the backward pass is timed.
        const y = wg.relu(x.w);
        return {
          webgrad: () => {
            wg.backward(y, dy.w);
            return takeGrad(x.w);
          },
          // tfjs's relu gradient is dy * step(x): these are the kernels tf.grad runs for it.
          tfjs: () => tf.mul(dy.t, tf.step(x.t)),
          dispose: disposer(y, x.w, x.t, dy.w, dy.t),
        };
      },
    },
    {
      op: 'add',
      pass: 'forward',
      shape: fmt(shape),
      flops: n,
      bytes: 12 * n,
      prepare(): Prepared {
        const a = pair(wg, tf, shape, 4);
        const b = pair(wg, tf, shape, 5);
        return {
          webgrad: () => wg.add(a.w, b.w),
          tfjs: () => tf.add(a.t, b.t),
          dispose: disposer(a.w, a.t, b.w, b.t),
        };
      },
    },
  ];
}

/** Every row, in the order the table lists them. */
export function opRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  return [...elementwiseRows(wg, tf)];
}
