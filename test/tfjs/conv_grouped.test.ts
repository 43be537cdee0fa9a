// Grouped and depthwise conv2d and conv2dTranspose vs tfjs's CPU backend (values and tf.grads), and gradcheck.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { seeded, useGpu } from '../helpers.js';
import { expectCloseTf, tf, toTfAll } from './tfjs.js';

useGpu();
const tol = { atol: 1e-4, rtol: 1e-4 };

const leaf = (shape: number[], seed: number) =>
  wg.tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    { requiresGrad: true },
  );

async function compare(
  leaves: wg.Tensor[],
  ours: (...xs: wg.Tensor[]) => wg.Tensor,
  theirs: (...xs: tf.Tensor[]) => tf.Tensor,
  label: string,
): Promise<void> {
  const y = ours(...leaves);
  const weights = wg.tensor(seeded(y.size, 77), [...y.shape]);
  wg.sum(wg.mul(y, weights)).backward();
  const t = await toTfAll(leaves);
  const [tw] = await toTfAll([weights]);
  await expectCloseTf(y, theirs(...t), tol, `${label} value`);
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(theirs(...xs), tw)))(t);
  for (let i = 0; i < leaves.length; i++)
    await expectCloseTf(leaves[i].grad!, grads[i], tol, `${label} grad ${i}`);
}

describe('grouped and depthwise conv2d', () => {
  for (const [stride, padding, mult] of [
    [1, 'same', 1],
    [2, 'valid', 2],
  ] as [number, 'same' | 'valid', number][]) {
    it(`depthwise 3x3 stride ${stride} ${padding} multiplier ${mult} = tf.depthwiseConv2d`, async () => {
      const x = leaf([2, 7, 6, 3], 1);
      const w = leaf([3, 3, 3, mult], 2);
      await compare(
        [x, w],
        (a, b) => wg.conv2d(a, wg.reshape(b, [3, 3, 1, 3 * mult]), { stride, padding, groups: 3 }),
        (a, b) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, padding),
        'depthwise',
      );
    });
  }

  // wg.depthwiseConv2d (the dedicated kernels) on edge shapes: vec4 and scalar lanes, 1x1 spatial, odd sizes,
  // even sizes with stride 2 'same' (the odd pixel bottom/right), explicit padding. Dilation is left to the
  // float64 reference tests (test/gpu/depthwise.test.ts): tfjs has no gradient for dilated depthwise convs.
  type Pad = 'same' | 'valid' | [[number, number], [number, number]];
  for (const [xs, k, mult, stride, padding] of [
    [[2, 8, 8, 8], 3, 1, 2, 'same'],
    [[1, 9, 7, 4], 3, 1, 2, 'valid'],
    [[3, 1, 1, 8], 3, 1, 1, 'same'],
    [[2, 6, 5, 5], 5, 2, 1, 'same'],
    [
      [1, 7, 6, 4],
      3,
      1,
      1,
      [
        [1, 2],
        [0, 1],
      ],
    ],
  ] as [number[], number, number, number, Pad][]) {
    it(`depthwiseConv2d x ${xs.join('x')} ${k}x${k} multiplier ${mult} stride ${stride} ${JSON.stringify(padding)} = tf.depthwiseConv2d`, async () => {
      const x = leaf(xs, 11);
      const w = leaf([k, k, xs[3], mult], 12);
      const b = leaf([xs[3] * mult], 13);
      await compare(
        [x, w, b],
        (a, f, c) => wg.depthwiseConv2d(a, f, { stride, padding, bias: c }),
        (a, f, c) =>
          tf.add(
            tf.depthwiseConv2d(
              a as tf.Tensor4D,
              f as tf.Tensor4D,
              stride,
              // tfjs spells explicit padding with the batch and channel axes too.
              typeof padding === 'string' ? padding : [[0, 0], ...padding, [0, 0]],
            ),
            c,
          ),
        'depthwiseConv2d',
      );
    });
  }

  it('groups 2 equals two convs on channel halves, with bias', async () => {
    const x = leaf([1, 5, 5, 4], 3);
    const w = leaf([3, 3, 2, 6], 4);
    const b = leaf([6], 5);
    await compare(
      [x, w, b],
      (a, f, c) => wg.conv2d(a, f, { padding: 'same', groups: 2, bias: c }),
      (a, f, c) => {
        const [a0, a1] = tf.split(a, 2, 3);
        const [f0, f1] = tf.split(f, 2, 3);
        const y = tf.concat(
          [
            tf.conv2d(a0 as tf.Tensor4D, f0 as tf.Tensor4D, 1, 'same'),
            tf.conv2d(a1 as tf.Tensor4D, f1 as tf.Tensor4D, 1, 'same'),
          ],
          3,
        );
        return tf.add(y, c);
      },
      'groups 2',
    );
    expect(() => wg.conv2d(x, leaf([3, 3, 3, 6], 6), { groups: 2 })).toThrow(/conv2d: with groups 2/);
  });
});

describe('conv2dTranspose', () => {
  for (const [stride, padding, out] of [
    [2, 'same', [2, 8, 6, 3]],
    [2, 'valid', [2, 9, 7, 3]],
    [1, 'same', [2, 4, 3, 3]],
  ] as [number, 'same' | 'valid', [number, number, number, number]][]) {
    it(`stride ${stride} ${padding} → ${JSON.stringify(out)} = tf.conv2dTranspose`, async () => {
      const oh = padding === 'same' ? Math.ceil(out[1] / stride) : Math.floor((out[1] - 3) / stride) + 1;
      const ow = padding === 'same' ? Math.ceil(out[2] / stride) : Math.floor((out[2] - 3) / stride) + 1;
      const x = leaf([2, oh, ow, 5], 7);
      const w = leaf([3, 3, 3, 5], 8);
      await compare(
        [x, w],
        (a, b) => wg.conv2dTranspose(a, b, { outputShape: out, stride, padding }),
        (a, b) => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, out, stride, padding),
        'conv2dTranspose',
      );
    });
  }

  it('passes gradcheck and refuses a bad outputShape', async () => {
    const x = wg.tensor(seeded(2 * 3 * 3 * 2, 9), [2, 3, 3, 2]);
    const w = wg.tensor(seeded(2 * 2 * 3 * 2, 10), [2, 2, 3, 2]);
    const result = await wg.gradcheck(
      (a, b) => wg.conv2dTranspose(a, b, { outputShape: [2, 6, 6, 3], stride: 2, padding: 'same' }),
      [x, w],
    );
    expect(result.mismatches).toEqual([]);
    expect(() => wg.conv2dTranspose(x, w, { outputShape: [6, 6, 3] as never })).toThrow(
      /conv2dTranspose: option 'outputShape'/,
    );
  });
});
