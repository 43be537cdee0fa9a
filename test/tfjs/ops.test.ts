// The new elementwise, reduction and layout ops vs tfjs's CPU backend: values and gradients (tf.grads).
import { describe, it } from 'vitest';
import * as wg from '../../src/index.js';
import { seeded, useGpu } from '../helpers.js';
import { expectCloseTf, tf, toTfAll } from './tfjs.js';

useGpu();
const tol = { atol: 1e-5, rtol: 1e-4 };

const leaf = (shape: number[], seed: number, spread = 2, offset = 0) =>
  wg.tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ).map((v) => v * spread + offset),
    shape,
    { requiresGrad: true },
  );

/**
 * A webgrad function and the same in tfjs, on the same leaves: the value, and with `grads` the gradients of a
 * weighted sum. Where tfjs has no gradient or a wrong one (Greater, StridedSlice; MirrorPad's only slices dy;
 * Maximum/Minimum fail on broadcast shapes) only values are compared here; test/gpu checks those gradients
 * against finite differences.
 */
async function same(
  leaves: wg.Tensor[],
  ours: (...xs: wg.Tensor[]) => wg.Tensor,
  theirs: (...xs: tf.Tensor[]) => tf.Tensor,
  label: string,
  grads = true,
): Promise<void> {
  const out = ours(...leaves);
  const weights = wg.tensor(seeded(out.size, 99), [...out.shape]);
  const loss = wg.sum(wg.mul(out, weights));
  loss.backward();
  const tfLeaves = await toTfAll(leaves);
  const [tfWeights] = await toTfAll([weights]);
  await expectCloseTf(out, theirs(...tfLeaves), tol, `${label} value`);
  if (!grads) return;
  const tfGrads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(theirs(...xs), tfWeights)))(tfLeaves);
  for (let i = 0; i < leaves.length; i++)
    await expectCloseTf(leaves[i].grad!, tfGrads[i], tol, `${label} grad ${i}`);
}

describe('elementwise ops vs tfjs', () => {
  const unary: [string, (x: wg.Tensor) => wg.Tensor, (x: tf.Tensor) => tf.Tensor, number][] = [
    ['exp', wg.exp, tf.exp, 0],
    ['log', wg.log, tf.log, 3],
    ['sqrt', wg.sqrt, tf.sqrt, 3],
    ['rsqrt', wg.rsqrt, tf.rsqrt, 3],
    ['sigmoid', wg.sigmoid, tf.sigmoid, 0],
    ['tanh', wg.tanh, tf.tanh, 0],
    ['softplus', wg.softplus, tf.softplus, 0],
    ['elu', (x) => wg.elu(x), tf.elu, 0],
    ['leakyRelu', (x) => wg.leakyRelu(x, 0.3), (x) => tf.leakyRelu(x, 0.3), 0],
    ['relu6', (x) => wg.relu6(wg.mul(x, 4)), (x) => tf.relu6(tf.mul(x, 4)), 0],
    ['clip', (x) => wg.clip(x, -0.7, 0.9), (x) => tf.clipByValue(x, -0.7, 0.9), 0],
    ['square', wg.square, tf.square, 0],
    ['abs', wg.abs, tf.abs, 0],
    ['neg', wg.neg, tf.neg, 0],
    ['reciprocal', wg.reciprocal, tf.reciprocal, 3],
    ['erf', wg.erf, tf.erf, 0],
  ];
  for (const [name, ours, theirs, offset] of unary) {
    it(name, async () => same([leaf([3, 7], 1, 2, offset)], ours, theirs, name));
  }

  const binary: [
    string,
    (a: wg.Tensor, b: wg.Tensor) => wg.Tensor,
    (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  ][] = [
    ['add', wg.add, tf.add],
    ['sub', wg.sub, tf.sub],
    ['mul', wg.mul, tf.mul],
    ['div', wg.div, tf.div],
    ['pow', wg.pow, tf.pow],
    ['maximum', wg.maximum, tf.maximum],
    ['minimum', wg.minimum, tf.minimum],
    ['where greater', (a, b) => wg.where(wg.greater(a, b), a, b), (a, b) => tf.where(tf.greater(a, b), a, b)],
  ];
  const tfGradientFails = ['maximum', 'minimum', 'where greater'];
  for (const [name, ours, theirs] of binary) {
    it(`${name} with broadcasting`, async () =>
      same(
        [leaf([2, 1, 5], 2, 1, 2), leaf([3, 1], 3, 1, 0.3)],
        ours,
        theirs,
        name,
        !tfGradientFails.includes(name),
      ));
    if (name !== 'where greater')
      it(`${name} same shapes`, async () =>
        same([leaf([3, 5], 2, 1, 2), leaf([3, 5], 3, 1, 0.3)], ours, theirs, name));
  }
});

describe('reductions vs tfjs', () => {
  const red: [string, (x: wg.Tensor) => wg.Tensor, (x: tf.Tensor) => tf.Tensor][] = [
    ['sum [0,2]', (x) => wg.sum(x, { axis: [0, 2] }), (x) => tf.sum(x, [0, 2])],
    ['mean [1] keepDims', (x) => wg.mean(x, { axis: 1, keepDims: true }), (x) => tf.mean(x, 1, true)],
    ['max [0,2]', (x) => wg.max(x, { axis: [0, 2] }), (x) => tf.max(x, [0, 2])],
    ['min all', (x) => wg.min(x), (x) => tf.min(x)],
  ];
  for (const [name, ours, theirs] of red)
    it(name, async () => same([leaf([3, 4, 5], 4)], ours, theirs, name));

  it('argmax and argmin', async () => {
    const x = leaf([3, 4, 5], 5);
    const [t] = await toTfAll([x]);
    await expectCloseTf(wg.argmax(x, { axis: 1 }), tf.argMax(t, 1), { atol: 0, rtol: 0 }, 'argmax');
    await expectCloseTf(wg.argmin(x, { axis: -1 }), tf.argMin(t, -1), { atol: 0, rtol: 0 }, 'argmin');
  });
});

describe('layout ops vs tfjs', () => {
  const cases: [string, number[], (x: wg.Tensor) => wg.Tensor, (x: tf.Tensor) => tf.Tensor][] = [
    ['transpose', [2, 3, 4], (x) => wg.transpose(x, [1, 2, 0]), (x) => tf.transpose(x, [1, 2, 0])],
    [
      'slice',
      [4, 5, 6],
      (x) => wg.slice(x, [1, 0, 2], [2, -1, 3]),
      (x) => tf.slice(x, [1, 0, 2], [2, -1, 3]),
    ],
    [
      'slice steps',
      [7, 6],
      (x) => wg.slice(x, [1, 0], [3, 2], { step: [2, 3] }),
      (x) => tf.stridedSlice(x, [1, 0], [7, 6], [2, 3]),
    ],
    [
      'pad',
      [3, 4],
      (x) =>
        wg.pad(
          x,
          [
            [1, 2],
            [3, 0],
          ],
          { value: 0.5 },
        ),
      (x) =>
        tf.pad(
          x,
          [
            [1, 2],
            [3, 0],
          ],
          0.5,
        ),
    ],
    [
      'mirrorPad reflect',
      [3, 4],
      (x) =>
        wg.pad(
          x,
          [
            [2, 1],
            [1, 3],
          ],
          { mode: 'reflect' },
        ),
      (x) =>
        tf.mirrorPad(
          x,
          [
            [2, 1],
            [1, 3],
          ],
          'reflect',
        ),
    ],
    [
      'gather',
      [4, 3],
      (x) => wg.gather(x, wg.tensor([2, 0, 2], [3], { dtype: 'int32' }), { axis: 1 }),
      (x) => tf.gather(x, tf.tensor1d([2, 0, 2], 'int32'), 1),
    ],
    ['stack', [2, 3], (x) => wg.stack([x, wg.mul(x, 2)], 1), (x) => tf.stack([x, tf.mul(x, 2)], 1)],
  ];
  const tfGradientWrong = ['slice steps', 'mirrorPad reflect'];
  for (const [name, shape, ours, theirs] of cases)
    it(name, async () => same([leaf(shape, 6)], ours, theirs, name, !tfGradientWrong.includes(name)));

  it('split', async () => {
    const x = leaf([4, 6], 7);
    const ours = wg.split(x, [1, 2, 3], 1);
    const [t] = await toTfAll([x]);
    const theirs = tf.split(t, [1, 2, 3], 1);
    for (let i = 0; i < 3; i++) await expectCloseTf(ours[i], theirs[i], tol, `split ${i}`);
  });
});
