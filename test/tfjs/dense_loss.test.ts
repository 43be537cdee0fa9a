// matmul, dense, softmax and softmax cross-entropy vs tfjs's CPU backend: forward values and tf.grad gradients.
import { describe, it } from 'vitest';
import {
  dense,
  matmul,
  mul,
  softmax,
  softmaxCrossEntropy,
  sum,
  tensor,
  type Tensor,
} from '../../src/index.js';
import { seeded, useGpu } from '../helpers.js';
import { expectCloseTf, tf, toTf, toTfAll } from './tfjs.js';

useGpu();
const tol = { atol: 1e-5, rtol: 1e-5 };

const input = (shape: number[], seed: number, spread = 1) =>
  tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ).map((v) => v * spread),
    shape,
    { requiresGrad: true },
  );

describe('matmul vs tf.matMul', () => {
  for (const [m, k, n] of [
    [1, 1, 1],
    [3, 5, 7],
    [8, 12, 16],
    [33, 17, 10],
  ])
    for (const transposeA of [false, true])
      for (const transposeB of [false, true]) {
        it(`M=${m} K=${k} N=${n} transposeA=${transposeA} transposeB=${transposeB}: value and gradients`, async () => {
          const a = input(transposeA ? [k, m] : [m, k], m + k);
          const b = input(transposeB ? [n, k] : [k, n], n * k);
          const w = input([m, n], 5);
          const out = matmul(a, b, { transposeA, transposeB });
          sum(mul(out, w)).backward();
          const [ta, tb, tw] = await toTfAll([a, b, w]);
          await expectCloseTf(out, tf.matMul(ta, tb, transposeA, transposeB), tol, 'forward');
          const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
            tf.sum(tf.mul(tf.matMul(x, y, transposeA, transposeB), tw)),
          )([ta, tb]);
          await expectCloseTf(a.grad!, ga, tol, 'da');
          await expectCloseTf(b.grad!, gb, tol, 'db');
        });
      }
});

describe('dense, softmax and the loss vs tfjs', () => {
  it('dense with bias: value and gradients of x, w and bias', async () => {
    const x = input([9, 13], 1);
    const w = input([13, 10], 2);
    const bias = input([10], 3);
    const y = dense(x, w, bias);
    sum(mul(y, y)).backward();
    const [tx, tw, tbias] = await toTfAll([x, w, bias]);
    const f = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.add(tf.matMul(p, q), r);
    await expectCloseTf(y, f(tx, tw, tbias), tol, 'forward');
    const grads = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.square(f(p, q, r))))([
      tx,
      tw,
      tbias,
    ]);
    for (const [g, ref, name] of [
      [x.grad!, grads[0], 'dx'],
      [w.grad!, grads[1], 'dw'],
      [bias.grad!, grads[2], 'dbias'],
    ] as [Tensor, tf.Tensor, string][])
      await expectCloseTf(g, ref, { atol: 1e-4, rtol: 1e-5 }, name);
  });

  it('softmax: value and gradient', async () => {
    const x = input([6, 11], 4, 5);
    const w = input([6, 11], 5);
    const p = softmax(x);
    sum(mul(p, w)).backward();
    const [tx, tw] = await toTfAll([x, w]);
    await expectCloseTf(p, tf.softmax(tx), tol, 'softmax');
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.softmax(v), tw)))(tx);
    await expectCloseTf(x.grad!, g, tol, 'dx');
  });

  for (const [n, k] of [
    [1, 2],
    [7, 10],
    [32, 100],
  ]) {
    it(`softmaxCrossEntropy N=${n} K=${k} vs tf.losses.softmaxCrossEntropy: loss and gradient`, async () => {
      const logits = input([n, k], n + k, 6);
      const labelValues = Array.from(seeded(n, 9), (v) => Math.floor(((v + 1) / 2) * k));
      const loss = softmaxCrossEntropy(logits, tensor(labelValues, [n], { dtype: 'int32' }));
      loss.backward();
      const tl = await toTf(logits);
      const onehot = tf.oneHot(tf.tensor1d(labelValues, 'int32'), k);
      // tfjs's default reduction is SUM_BY_NONZERO_WEIGHTS: with unit weights, the mean over the batch.
      const f = (v: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, v);
      await expectCloseTf(loss, f(tl), tol, 'loss');
      await expectCloseTf(logits.grad!, tf.grad(f)(tl), { atol: 1e-6, rtol: 1e-5 }, 'dlogits');
    });
  }

  it('the two-layer classifier composes: loss and every gradient', async () => {
    const x = input([5, 8], 11);
    const w1 = input([8, 6], 12);
    const b1 = input([6], 13);
    const w2 = input([6, 3], 14);
    const labels = [2, 0, 1, 1, 0];
    const hidden = dense(x, w1, b1);
    const loss = softmaxCrossEntropy(matmul(hidden, w2), tensor(labels, [5], { dtype: 'int32' }));
    loss.backward();
    const [tx, tw1, tb1, tw2] = await toTfAll([x, w1, b1, w2]);
    const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
    const f = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
      tf.losses.softmaxCrossEntropy(onehot, tf.matMul(tf.add(tf.matMul(tx, p), q), r));
    await expectCloseTf(loss, f(tw1, tb1, tw2), tol, 'loss');
    const grads = tf.grads(f)([tw1, tb1, tw2]);
    await expectCloseTf(w1.grad!, grads[0], tol, 'dw1');
    await expectCloseTf(b1.grad!, grads[1], tol, 'db1');
    await expectCloseTf(w2.grad!, grads[2], tol, 'dw2');
  });
});
