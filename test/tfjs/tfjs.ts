// Shared tfjs oracle for tests: the CPU backend set once, conversions from webgrad tensors, tolerance checks.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core alone registers no gradients; tf.grad needs them (the tfjs umbrella package imports this).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { expect } from 'vitest';
import { Tensor } from '../../src/index.js';
import { expectClose, type Tolerance } from '../helpers.js';

await tf.setBackend('cpu');

export { tf };

/** A tfjs tensor holding `t`'s values (read from the device), with its shape and dtype. */
export async function toTf(t: Tensor): Promise<tf.Tensor> {
  if (t.dtype === 'int32') return tf.tensor(await t.int32Data(), [...t.shape], 'int32');
  return tf.tensor(await t.data(), [...t.shape], 'float32');
}

/** tfjs tensors for several webgrad tensors, in order. */
export function toTfAll(ts: readonly Tensor[]): Promise<tf.Tensor[]> {
  return Promise.all(ts.map(toTf));
}

/** Asserts a webgrad tensor (or plain values) matches a tfjs tensor in shape and values within `tol`. */
export async function expectCloseTf(
  got: Tensor | ArrayLike<number>,
  ref: tf.Tensor,
  tol: Tolerance,
  label = '',
): Promise<void> {
  if (got instanceof Tensor) {
    expect([...got.shape], `${label}: shape`).toEqual(ref.shape);
    expectClose(
      got.dtype === 'int32' ? await got.int32Data() : await got.data(),
      await ref.data(),
      tol,
      label,
    );
  } else {
    expectClose(got, await ref.data(), tol, label);
  }
}
