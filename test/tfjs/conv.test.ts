// conv2d forward values and gradients vs tfjs's CPU backend (tf.conv2d NHWC, tf.grads), on seeded random shapes.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, it } from 'vitest';
import { Rng, conv2d, mul, sum, tensor, type Padding } from '../../src/index.js';
import { expectClose, seeded, useGpu } from '../helpers.js';

useGpu();
beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('conv2d vs tfjs CPU', () => {
  const rng = new Rng(1234);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
  for (let t = 0; t < 8; t++) {
    const k = pick([1, 2, 3, 4, 5, 7]);
    const stride = pick([1, 2]);
    // tf.conv2d allows dilation > 1 only with stride 1.
    const dilation = stride === 1 ? pick([1, 2]) : 1;
    const padding: Padding = pick(['same', 'valid'] as const);
    const n = pick([1, 3]);
    const h = k * dilation + pick([0, 3, 6]);
    const w = k * dilation + pick([1, 4]);
    const cin = pick([1, 3, 4, 8]);
    const cout = pick([2, 4, 5, 8]);
    const xs = [n, h, w, cin];
    const ws = [k, k, cin, cout];
    it(`x ${JSON.stringify(xs)} w ${JSON.stringify(ws)} stride ${stride} dilation ${dilation} '${padding}'`, async () => {
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const [xd, wd, bd] = [seeded(size(xs), 10 + t), seeded(size(ws), 20 + t), seeded(cout, 30 + t)];
      const x = tensor(xd, xs, { requiresGrad: true });
      const wt = tensor(wd, ws, { requiresGrad: true });
      const b = tensor(bd, [cout], { requiresGrad: true });
      const y = conv2d(x, wt, { stride, padding, dilation, bias: b });
      const r = seeded(size([...y.shape]), 40 + t);
      sum(mul(y, tensor(r, y.shape))).backward();

      const tx = tf.tensor4d(xd, xs as [number, number, number, number]);
      const tw = tf.tensor4d(wd, ws as [number, number, number, number]);
      const tb = tf.tensor1d(bd);
      const tr = tf.tensor(r, [...y.shape]);
      const f = (a: tf.Tensor, bw: tf.Tensor, bb: tf.Tensor) =>
        tf.add(tf.conv2d(a as tf.Tensor4D, bw as tf.Tensor4D, stride, padding, 'NHWC', dilation), bb);
      const ty = f(tx, tw, tb);
      const tol = { atol: 1e-4, rtol: 1e-4 };
      expectClose(await y.data(), await ty.data(), tol, 'y');
      // tfjs has no conv2d gradients for dilation > 1 (the GPU tests check those against the float64 reference).
      if (dilation > 1) return;
      const grads = tf.grads((a: tf.Tensor, bw: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(f(a, bw, bb), tr)),
      )([tx, tw, tb]);
      expectClose(await x.grad!.data(), await grads[0].data(), tol, 'dx');
      expectClose(await wt.grad!.data(), await grads[1].data(), { atol: 1e-3, rtol: 1e-4 }, 'dw');
      expectClose(await b.grad!.data(), await grads[2].data(), { atol: 1e-3, rtol: 1e-4 }, 'db');
    });
  }
});
