// Pooling, batch norm and concat vs tfjs's CPU backend: forward values and tf.grad gradients.
import { describe, it } from 'vitest';
import {
  avgPool2d,
  batchNorm,
  concat,
  maxPool2d,
  mul,
  ones,
  sum,
  tensor,
  zeros,
  type PoolOptions,
  type Tensor,
} from '../../src/index.js';
import { resolvePadding } from '../../src/ops/conv_geometry.js';
import { seeded, useGpu } from '../helpers.js';
import { expectCloseTf, tf, toTf, toTfAll } from './tfjs.js';

useGpu();
const tol = { atol: 1e-5, rtol: 1e-5 };

const input = (shape: readonly number[], seed: number, requiresGrad = true) =>
  tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    { requiresGrad },
  );

type Pool4 = (x: tf.Tensor4D) => tf.Tensor4D;

async function comparePool(
  ours: (x: Tensor, o: PoolOptions) => Tensor,
  theirs: (o: PoolOptions) => Pool4,
  x: Tensor,
  o: PoolOptions,
  label: string,
  compareGradient = true,
): Promise<void> {
  x.grad = null;
  const y = ours(x, o);
  const w = input(y.shape, 99, false);
  sum(mul(y, w)).backward();
  const [tx, tw] = await toTfAll([x, w]);
  const f = theirs(o);
  await expectCloseTf(y, f(tx as tf.Tensor4D), tol, `${label} forward`);
  if (!compareGradient) return;
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v as tf.Tensor4D), tw)))(tx);
  await expectCloseTf(x.grad!, g, tol, `${label} dx`);
}

const pair = (v: PoolOptions['size']): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

const tfMax =
  (o: PoolOptions): Pool4 =>
  (x) =>
    tf.maxPool(
      x,
      o.size as [number, number],
      (o.stride ?? o.size) as [number, number],
      (o.padding ?? 'valid') as 'same' | 'valid',
    );
const tfAvg =
  (o: PoolOptions): Pool4 =>
  (x) =>
    tf.avgPool(
      x,
      o.size as [number, number],
      (o.stride ?? o.size) as [number, number],
      (o.padding ?? 'valid') as 'same' | 'valid',
    );

describe('maxPool2d and avgPool2d vs tf.maxPool / tf.avgPool', () => {
  const cases: [number[], PoolOptions][] = [
    [[2, 9, 7, 3], { size: 3, stride: 2, padding: 'same' }],
    [[1, 8, 8, 4], { size: 2, stride: 2, padding: 'same' }],
    [[3, 6, 10, 5], { size: [2, 3], stride: [1, 2], padding: 'same' }],
    [[1, 7, 7, 8], { size: 3, stride: 2, padding: 'valid' }],
    [[2, 5, 6, 2], { size: 4, stride: 1, padding: 'same' }],
  ];
  for (const [shape, o] of cases) {
    it(`${JSON.stringify(shape)} ${JSON.stringify(o)}`, async () => {
      const x = input(shape, shape[1] * 7 + shape[3]);
      await comparePool(maxPool2d, tfMax, x, o, 'maxPool');
      // tfjs-backend-cpu's AvgPoolGrad scales by 1/(KH*KW) even where 'same' padding made a window hold fewer
      // taps, which is not the derivative of its own forward (TensorFlow's kernel divides by the in-bounds taps).
      // Padded windows' gradients are checked against finite differences in test/nodevice instead.
      const padded = resolvePadding(
        't',
        shape[1],
        shape[2],
        ...pair(o.size),
        pair(o.stride ?? o.size),
        [1, 1],
        o.padding ?? 'valid',
      );
      const unpadded = padded.padTop + padded.padBottom + padded.padLeft + padded.padRight === 0;
      await comparePool(avgPool2d, tfAvg, x, o, 'avgPool', unpadded);
    });
  }

  it('routes tied maxima to the same tap as tf', async () => {
    // Values from {0, 1}: many ties inside each window.
    const v = seeded(2 * 6 * 6 * 4, 5).map((t) => (t > 0 ? 1 : 0));
    const x = tensor(v, [2, 6, 6, 4], { requiresGrad: true });
    await comparePool(maxPool2d, tfMax, x, { size: 3, stride: 2, padding: 'same' }, 'ties');
  });
});

describe('batchNorm vs tf.moments + tf.batchNorm', () => {
  for (const shape of [
    [4, 5, 3, 6],
    [2, 7, 7, 8],
    [10, 3],
  ]) {
    it(`training on ${JSON.stringify(shape)}: value and gradients of x, gamma, beta`, async () => {
      const c = shape[shape.length - 1];
      const x = input(shape, c + 1);
      const gamma = input([c], 2);
      const beta = input([c], 3);
      const y = batchNorm(x, { gamma, beta, runningMean: zeros([c]), runningVar: ones([c]), training: true });
      const w = input(shape, 4, false);
      sum(mul(y, w)).backward();
      const [tx, tg, tb, tw] = await toTfAll([x, gamma, beta, w]);
      const axes = shape.slice(0, -1).map((_, i) => i);
      const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, axes);
        return tf.batchNorm(a, mean, variance, b, g, 1e-3);
      };
      await expectCloseTf(y, f(tx, tg, tb), tol, 'forward');
      const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b), tw)))([
        tx,
        tg,
        tb,
      ]);
      await expectCloseTf(x.grad!, grads[0], { atol: 2e-5, rtol: 1e-4 }, 'dx');
      await expectCloseTf(gamma.grad!, grads[1], { atol: 2e-5, rtol: 1e-4 }, 'dgamma');
      await expectCloseTf(beta.grad!, grads[2], { atol: 2e-5, rtol: 1e-4 }, 'dbeta');
    });
  }

  it('inference with running statistics: value and gradients', async () => {
    const x = input([3, 4, 5, 6], 7);
    const gamma = input([6], 8);
    const beta = input([6], 9);
    const runningMean = input([6], 10, false);
    const runningVar = tensor(
      seeded(6, 11).map((v) => v + 1.5),
      [6],
    );
    const y = batchNorm(x, { gamma, beta, runningMean, runningVar, training: false });
    const w = input([3, 4, 5, 6], 12, false);
    sum(mul(y, w)).backward();
    const [tx, tg, tb, tm, tv, tw] = await toTfAll([x, gamma, beta, runningMean, runningVar, w]);
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.batchNorm(a, tm, tv, b, g, 1e-3);
    await expectCloseTf(y, f(tx, tg, tb), tol, 'forward');
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b), tw)))([
      tx,
      tg,
      tb,
    ]);
    await expectCloseTf(x.grad!, grads[0], tol, 'dx');
    await expectCloseTf(gamma.grad!, grads[1], { atol: 1e-5, rtol: 1e-4 }, 'dgamma');
    await expectCloseTf(beta.grad!, grads[2], { atol: 1e-5, rtol: 1e-4 }, 'dbeta');
  });
});

describe('concat vs tf.concat', () => {
  it('along channels (Inception) and a middle axis, with gradients', async () => {
    for (const [shapes, axis] of [
      [
        [
          [2, 3, 3, 5],
          [2, 3, 3, 2],
          [2, 3, 3, 7],
        ],
        -1,
      ],
      [
        [
          [2, 1, 4],
          [2, 4, 4],
        ],
        1,
      ],
    ] as [number[][], number][]) {
      const xs = shapes.map((s, i) => input(s, 20 + i));
      const y = concat(xs, axis);
      const w = input(y.shape, 30, false);
      sum(mul(y, w)).backward();
      const txs = await toTfAll(xs);
      const tw = await toTf(w);
      await expectCloseTf(y, tf.concat(txs, axis), { atol: 0, rtol: 0 }, 'forward');
      const grads = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(tf.concat(ts, axis), tw)))(txs);
      for (let i = 0; i < xs.length; i++)
        await expectCloseTf(xs[i].grad!, grads[i], { atol: 0, rtol: 0 }, `d${i}`);
    }
  });
});
