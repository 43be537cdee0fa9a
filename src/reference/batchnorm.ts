// Float64 CPU reference for batch normalization (channels last) and its backward passes.
import type { RefTensor } from '../ops/types.js';

function channels(x: RefTensor): { rows: number; c: number } {
  const c = x.shape[x.shape.length - 1];
  return { rows: c === 0 ? 0 : x.data.length / c, c };
}

/** Per-channel batch mean and biased variance of x [..., C]. */
export function refMoments(x: RefTensor): { mean: RefTensor; variance: RefTensor } {
  const { rows, c } = channels(x);
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let r = 0; r < rows; r++) for (let k = 0; k < c; k++) mean[k] += x.data[r * c + k] / rows;
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < c; k++) variance[k] += (x.data[r * c + k] - mean[k]) ** 2 / rows;
  return { mean: { shape: [c], data: mean }, variance: { shape: [c], data: variance } };
}

/** y = (x - mean) * gamma / sqrt(variance + eps) + beta, per channel. */
export function refBatchNormApply(
  x: RefTensor,
  gamma: RefTensor,
  beta: RefTensor,
  mean: RefTensor,
  variance: RefTensor,
  eps: number,
): RefTensor {
  const { c } = channels(x);
  const data = x.data.map((v, i) => {
    const k = i % c;
    return ((v - mean.data[k]) * gamma.data[k]) / Math.sqrt(variance.data[k] + eps) + beta.data[k];
  });
  return { shape: x.shape, data };
}

/**
 * running = momentum * running + (1 - momentum) * batch * scale (scale 1 for the mean and the biased variance,
 * rows / (rows - 1) to make the variance the unbiased one).
 */
export function refMovingAverage(
  running: RefTensor,
  batch: RefTensor,
  momentum: number,
  scale: number,
): RefTensor {
  return {
    shape: running.shape,
    data: running.data.map((v, i) => v * momentum + batch.data[i] * scale * (1 - momentum)),
  };
}

/** dgamma = sum dy * (x - mean) / sqrt(variance + eps), dbeta = sum dy, over every axis but the last. */
export function refBatchNormGradParams(
  dy: RefTensor,
  x: RefTensor,
  mean: RefTensor,
  variance: RefTensor,
  eps: number,
): [RefTensor, RefTensor] {
  const { rows, c } = channels(x);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < c; k++) {
      const i = r * c + k;
      dbeta[k] += dy.data[i];
      dgamma[k] += (dy.data[i] * (x.data[i] - mean.data[k])) / Math.sqrt(variance.data[k] + eps);
    }
  return [
    { shape: [c], data: dgamma },
    { shape: [c], data: dbeta },
  ];
}

/** dx of training-mode batch norm: gamma * invStd * (dy - (dbeta + xhat * dgamma) / rows). */
export function refBatchNormGradInput(
  dy: RefTensor,
  x: RefTensor,
  gamma: RefTensor,
  mean: RefTensor,
  variance: RefTensor,
  dgamma: RefTensor,
  dbeta: RefTensor,
  eps: number,
): RefTensor {
  const { rows, c } = channels(x);
  const data = x.data.map((v, i) => {
    const k = i % c;
    const invStd = 1 / Math.sqrt(variance.data[k] + eps);
    const xhat = (v - mean.data[k]) * invStd;
    return gamma.data[k] * invStd * (dy.data[i] - (dbeta.data[k] + xhat * dgamma.data[k]) / rows);
  });
  return { shape: x.shape, data };
}

/** dx of inference-mode batch norm: dy * gamma / sqrt(runningVar + eps). */
export function refBatchNormGradInputInference(
  dy: RefTensor,
  gamma: RefTensor,
  variance: RefTensor,
  eps: number,
): RefTensor {
  const c = gamma.data.length;
  const data = dy.data.map((v, i) => (v * gamma.data[i % c]) / Math.sqrt(variance.data[i % c] + eps));
  return { shape: dy.shape, data };
}

/**
 * Batch norm folded into the conv before it: w' = w * s and b' = (bias - mean) * s + beta per output channel (the
 * last axis of w), s = gamma / sqrt(variance + eps); bias is zero when absent.
 */
export function refBatchNormFold(
  w: RefTensor,
  gamma: RefTensor,
  beta: RefTensor,
  mean: RefTensor,
  variance: RefTensor,
  eps: number,
  bias?: RefTensor,
): [RefTensor, RefTensor] {
  const { c } = channels(w);
  const s = gamma.data.map((g, k) => g / Math.sqrt(variance.data[k] + eps));
  const folded = w.data.map((v, i) => v * s[i % c]);
  const b = s.map((sk, k) => ((bias ? bias.data[k] : 0) - mean.data[k]) * sk + beta.data[k]);
  return [
    { shape: w.shape, data: folded },
    { shape: [c], data: b },
  ];
}
