// grad / valueAndGrad / noGrad / Module.zeroGrad, and the composite reductions (logSumExp, softmax and
// logSoftmax along any axis, variance, moments) vs the float64 reference, tfjs and finite differences.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { expectClose, expectMatchesReference, seeded, useGpu } from '../helpers.js';
import { expectCloseTf, tf, toTfAll } from '../tfjs/tfjs.js';

useGpu();
const tol = { atol: 1e-5, rtol: 1e-4 };

const input = (shape: number[], seed: number, requiresGrad = false) =>
  wg.tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ).map((v) => 3 * v),
    shape,
    { requiresGrad },
  );

describe('grad, valueAndGrad, noGrad', () => {
  it('returns gradients per argnum without touching .grad', async () => {
    const x = input([3, 4], 1);
    const w = input([4], 2, true);
    const f = (a: wg.Tensor, b: wg.Tensor) => wg.sum(wg.mul(wg.square(a), b));
    const [ga, gb] = wg.grad(f, { argnums: [0, 1] })(x, w) as wg.Tensor[];
    expect(x.requiresGrad).toBe(false);
    expect(w.grad).toBeNull();
    const [xv, wv] = await Promise.all([x.data(), w.data()]);
    expectClose(
      await ga.data(),
      Array.from(xv, (v, i) => 2 * v * wv[i % 4]),
      tol,
      'da',
    );
    const db = [0, 1, 2, 3].map((c) => [0, 1, 2].reduce((t, r) => t + xv[r * 4 + c] ** 2, 0));
    expectClose(await gb.data(), db, tol, 'db');
    const g0 = wg.grad(f)(x, w) as wg.Tensor;
    expectClose(await g0.data(), await ga.data(), { atol: 0, rtol: 0 }, 'argnums default 0');
    const { value, grads } = wg.valueAndGrad(f, { argnums: 1 })(x, w);
    expectClose(await value.data(), [db.reduce((t, v, i) => t + v * wv[i], 0)], tol, 'value');
    expectClose(await (grads as wg.Tensor).data(), db, tol, 'valueAndGrad');
    // Unused argument: zeros.
    const z = wg.grad((a: wg.Tensor, _b: wg.Tensor) => wg.sum(a), { argnums: 1 })(x, w) as wg.Tensor;
    expect(Array.from(await z.data())).toEqual([0, 0, 0, 0]);
  });

  it('refuses bad arguments and non-scalar results', () => {
    const x = input([3], 3);
    expect(() => wg.grad((a: wg.Tensor) => a)(x)).toThrow(/grad: fn must return a one-element tensor/);
    expect(() => wg.grad((a: wg.Tensor) => wg.sum(a), { argnums: 2 })(x)).toThrow(
      /grad: argnums 2 name no argument/,
    );
    expect(() => wg.grad((_a: number) => wg.sum(x), {})(1 as never)).toThrow(
      /grad: argument 0 must be a Tensor/,
    );
    expect(x.requiresGrad).toBe(false);
  });

  it('noGrad records no gradients; zeroGrad on modules clears .grad', async () => {
    const w = input([4], 4, true);
    const y = wg.noGrad(() => wg.mul(w, 2));
    expect(y.needsGrad).toBe(false);
    expect(wg.mul(w, 2).needsGrad).toBe(true);
    const layer = new wg.nn.Dense(4, 2);
    wg.sum(layer.forward(input([3, 4], 5))).backward();
    expect(layer.parameters().every((p) => p.grad !== null)).toBe(true);
    layer.zeroGrad();
    expect(layer.parameters().every((p) => p.grad === null)).toBe(true);
  });
});

describe('composite reductions', () => {
  it('logSumExp, softmax and logSoftmax along any axis, variance and moments vs the reference', async () => {
    const x = input([3, 4, 5], 6);
    const m = wg.moments(x, { axis: [0, 2] });
    await expectMatchesReference(
      [
        wg.logSumExp(x, { axis: [0, 2] }),
        wg.logSumExp(x, { axis: 1, keepDims: true }),
        wg.softmax(x, { axis: 1 }),
        wg.softmax(x),
        wg.logSoftmax(x, { axis: 0 }),
        wg.variance(x, { axis: 1, correction: 1 }),
        m.mean,
        m.variance,
      ],
      tol,
    );
    // Large logits do not overflow.
    const big = wg.tensor([1000, 1000, -1000], [3]);
    expectClose(await wg.logSumExp(big).data(), [1000 + Math.log(2)], tol);
    expect(() => wg.variance(x, { axis: 0, correction: 3 })).toThrow(
      /variance: 'correction' must be in \[0, 3\)/,
    );
  });

  it('matches tfjs (values and gradients)', async () => {
    const x = input([3, 4, 5], 7, true);
    const [t] = await toTfAll([x]);
    const w = wg.tensor(seeded(60, 8), [3, 4, 5]);
    const [tw] = await toTfAll([w]);
    const cases: [string, (a: wg.Tensor) => wg.Tensor, (a: tf.Tensor) => tf.Tensor][] = [
      [
        'logSumExp',
        (a) => wg.logSumExp(a, { axis: [0, 2], keepDims: true }),
        (a) => tf.logSumExp(a, [0, 2], true),
      ],
      [
        'logSoftmax axis 1',
        (a) => wg.logSoftmax(a, { axis: 1 }),
        (a) => tf.transpose(tf.logSoftmax(tf.transpose(a, [0, 2, 1])), [0, 2, 1]),
      ],
      [
        'softmax axis 0',
        (a) => wg.softmax(a, { axis: 0 }),
        (a) => tf.transpose(tf.softmax(tf.transpose(a, [2, 1, 0])), [2, 1, 0]),
      ],
      [
        'moments variance',
        (a) => wg.moments(a, { axis: [1, 2], keepDims: true }).variance,
        (a) => tf.moments(a, [1, 2], true).variance,
      ],
    ];
    for (const [name, ours, theirs] of cases) {
      const y = ours(x);
      await expectCloseTf(y, theirs(t), tol, name);
      const g = wg.grad((a: wg.Tensor) => wg.sum(wg.mul(ours(a), wg.slice(w, 0, [...y.shape]))))(
        x,
      ) as wg.Tensor;
      const tg = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(theirs(a), tf.slice(tw, 0, [...y.shape]))))(t);
      await expectCloseTf(g, tg, tol, `${name} grad`);
    }
  });
});
