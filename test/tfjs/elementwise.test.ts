// The elementwise ops, reductions and reshape vs tfjs's CPU backend on seeded random shapes: values and tf.grads.
import { describe, it } from 'vitest';
import { add, mean, mul, relu, reshape, sub, sum, tensor, type Tensor } from '../../src/index.js';
import { seeded, useGpu } from '../helpers.js';
import { expectCloseTf, tf, toTfAll } from './tfjs.js';

useGpu();
const tol = { atol: 1e-6, rtol: 1e-5 };

/** Seeded random shapes: rank 1 to 4, each dimension 1 to 9. */
function randomShapes(count: number, seed: number): number[][] {
  const r = Array.from(seeded(count * 5, seed), (v) => (v + 1) / 2);
  return Array.from({ length: count }, (_, i) => {
    const rank = 1 + Math.floor(r[5 * i] * 4);
    return Array.from({ length: rank }, (_, d) => 1 + Math.floor(r[5 * i + 1 + d] * 9));
  });
}

const input = (shape: number[], seed: number) =>
  tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    { requiresGrad: true },
  );

type Binary = [string, (a: Tensor, b: Tensor) => Tensor, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor];
const binaries: Binary[] = [
  ['add', add, tf.add],
  ['sub', sub, tf.sub],
  ['mul', mul, tf.mul],
];

/** Checks a webgrad loss and its gradients against the same function in tfjs, on fresh seeded leaves. */
async function expectSameAsTf(
  specs: [shape: number[], seed: number][],
  ours: (...xs: Tensor[]) => Tensor,
  theirs: (...xs: tf.Tensor[]) => tf.Tensor,
  label: string,
): Promise<void> {
  const leaves = specs.map(([shape, seed]) => input(shape, seed));
  const loss = ours(...leaves);
  loss.backward();
  const tfLeaves = await toTfAll(leaves);
  await expectCloseTf(loss, theirs(...tfLeaves), tol, `${label} value`);
  const grads = tf.grads((...xs: tf.Tensor[]) => theirs(...xs))(tfLeaves);
  for (let i = 0; i < leaves.length; i++)
    await expectCloseTf(leaves[i].grad!, grads[i], tol, `${label} grad ${i}`);
}

describe('binary ops with broadcasting', () => {
  randomShapes(6, 1).forEach((shape, i) => {
    // The second operand: the same shape, a trailing part of it (bias-like), or a scalar.
    const trailing = shape.slice(Math.floor(shape.length / 2));
    for (const other of [shape, trailing, []]) {
      it(`${JSON.stringify(shape)} with ${JSON.stringify(other)}`, async () => {
        for (const [name, ours, theirs] of binaries) {
          // Weighting by a third input makes every output element's gradient distinct.
          await expectSameAsTf(
            [
              [shape, 10 * i + 1],
              [other, 10 * i + 2],
              [shape, 10 * i + 3],
            ],
            (x, y, z) => sum(mul(ours(x, y), z)),
            (x, y, z) => tf.sum(tf.mul(theirs(x, y), z)),
            name,
          );
          // Broadcast the other way round: the short operand first.
          await expectSameAsTf(
            [
              [other, 10 * i + 4],
              [shape, 10 * i + 5],
              [shape, 10 * i + 3],
            ],
            (x, y, z) => sum(mul(ours(x, y), z)),
            (x, y, z) => tf.sum(tf.mul(theirs(x, y), z)),
            `${name} reversed`,
          );
        }
      });
    }
  });
});

describe('relu, reductions and reshape', () => {
  randomShapes(8, 2).forEach((shape, i) => {
    it(`relu, sum, mean, reshape on ${JSON.stringify(shape)}`, async () => {
      await expectSameAsTf(
        [
          [shape, 100 + i],
          [shape, 200 + i],
        ],
        (a, b) => mean(mul(relu(a), b)),
        (a, b) => tf.mean(tf.mul(tf.relu(a), b)),
        'relu',
      );
      // Every adjacent axis group, with and without keepDims, checked through a weighted sum.
      for (let start = 0; start < shape.length; start++)
        for (let stop = start; stop < shape.length; stop++) {
          const axis = Array.from({ length: stop - start + 1 }, (_, k) => start + k);
          for (const keepDims of [false, true]) {
            const reducedShape = shape.flatMap((d, k) => (axis.includes(k) ? (keepDims ? [1] : []) : [d]));
            for (const [name, ours, theirs] of [
              ['sum', sum, tf.sum],
              ['mean', mean, tf.mean],
            ] as const) {
              await expectSameAsTf(
                [
                  [shape, 400 + i],
                  [reducedShape, 300 + i],
                ],
                (a, b) => sum(mul(ours(a, { axis, keepDims }), b)),
                (a, b) => tf.sum(tf.mul(theirs(a, axis, keepDims), b)),
                `${name} axis ${JSON.stringify(axis)} keepDims ${keepDims}`,
              );
            }
          }
        }
      const flat = [shape.reduce((a, b) => a * b, 1)];
      await expectSameAsTf(
        [
          [shape, 500 + i],
          [flat, 600 + i],
        ],
        (a, b) => sum(mul(reshape(a, [-1]), b)),
        (a, b) => tf.sum(tf.mul(tf.reshape(a, [-1]), b)),
        'reshape',
      );
    });
  });
});
