// Float64 CPU reference for matmul (with tf.matMul's transposes) and dense (matmul plus a bias row).
import type { RefTensor } from '../ops/types.js';

/**
 * out[m, n] = sum_k A(m, k) * B(k, n) (+ bias[n]), where A is a or its transpose and B is b or its transpose.
 * Shapes: a [M,K] ([K,M] transposed), b [K,N] ([N,K] transposed), bias [N] → out [M,N].
 */
export function refMatmul(
  a: RefTensor,
  b: RefTensor,
  transposeA: boolean,
  transposeB: boolean,
  bias?: RefTensor,
): RefTensor {
  const [m, k] = transposeA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const n = transposeB ? b.shape[0] : b.shape[1];
  const data = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = bias ? bias.data[j] : 0;
      for (let t = 0; t < k; t++) {
        const av = transposeA ? a.data[t * m + i] : a.data[i * k + t];
        const bv = transposeB ? b.data[j * k + t] : b.data[t * n + j];
        acc += av * bv;
      }
      data[i * n + j] = acc;
    }
  }
  return { shape: [m, n], data };
}
