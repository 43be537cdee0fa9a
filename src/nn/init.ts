// Seeded weight initializers: He normal for convolutions before ReLU, Glorot uniform for dense layers.
import { randn, uniform } from '../graph/create.js';
import type { Tensor } from '../graph/tensor.js';

/** Normal with std sqrt(2 / fanIn) (He et al.), for layers followed by ReLU. */
export function heNormal(shape: readonly number[], fanIn: number, seed: number): Tensor {
  return randn(shape, { seed, std: Math.sqrt(2 / fanIn) });
}

/** Uniform in ±sqrt(6 / (fanIn + fanOut)) (Glorot and Bengio), Keras's default for dense layers. */
export function glorotUniform(shape: readonly number[], fanIn: number, fanOut: number, seed: number): Tensor {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return uniform(shape, { seed, low: -limit, high: limit });
}
