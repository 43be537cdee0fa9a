// Float64 CPU reference for softmax, its backward pass, and softmax cross-entropy with integer labels.
import type { RefTensor } from '../ops/types.js';

/** Softmax over the last axis (max-subtracted). Shapes: x [..., K] → same shape. */
export function refSoftmax(x: RefTensor): RefTensor {
  const k = x.shape[x.shape.length - 1];
  const data = new Float64Array(x.data.length);
  for (let base = 0; base < data.length; base += k) {
    let mx = -Infinity;
    for (let c = 0; c < k; c++) mx = Math.max(mx, x.data[base + c]);
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(x.data[base + c] - mx);
    for (let c = 0; c < k; c++) data[base + c] = Math.exp(x.data[base + c] - mx) / s;
  }
  return { shape: x.shape, data };
}

/** dx = p * (dy - sum(dy * p)) per row. Shapes: dy, p [..., K] → same shape. */
export function refSoftmaxBackward(dy: RefTensor, p: RefTensor): RefTensor {
  const k = p.shape[p.shape.length - 1];
  const data = new Float64Array(p.data.length);
  for (let base = 0; base < data.length; base += k) {
    let dot = 0;
    for (let c = 0; c < k; c++) dot += dy.data[base + c] * p.data[base + c];
    for (let c = 0; c < k; c++) data[base + c] = p.data[base + c] * (dy.data[base + c] - dot);
  }
  return { shape: p.shape, data };
}

function validLabel(label: number, k: number): boolean {
  return Number.isInteger(label) && label >= 0 && label < k;
}

/**
 * Mean over rows of -log softmax(logits)[label] (0 for a label outside [0, K)), and the probabilities.
 * Shapes: logits [N,K], labels [N] → [loss [], probs [N,K]].
 */
export function refSoftmaxCrossEntropy(logits: RefTensor, labels: RefTensor): RefTensor[] {
  const [rows, k] = logits.shape;
  const probs = refSoftmax(logits);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const label = labels.data[r];
    if (!validLabel(label, k)) continue;
    // log-sum-exp form, so a probability that underflows to 0 still gives a finite loss.
    const row = logits.data.subarray(r * k, (r + 1) * k);
    const mx = row.reduce((a, v) => Math.max(a, v), -Infinity);
    const s = row.reduce((a, v) => a + Math.exp(v - mx), 0);
    total += Math.log(s) + mx - row[label];
  }
  return [{ shape: [], data: Float64Array.of(total / rows) }, probs];
}

/** dlogits = (p * [label valid] - onehot) * dy / N. Shapes: dy [], p [N,K], labels [N] → [N,K]. */
export function refSoftmaxCrossEntropyBackward(dy: RefTensor, p: RefTensor, labels: RefTensor): RefTensor {
  const [rows, k] = p.shape;
  const data = new Float64Array(p.data.length);
  for (let r = 0; r < rows; r++) {
    const label = labels.data[r];
    const valid = validLabel(label, k);
    for (let c = 0; c < k; c++) {
      const g = (valid ? p.data[r * k + c] : 0) - (valid && c === label ? 1 : 0);
      data[r * k + c] = (g * dy.data[0]) / rows;
    }
  }
  return { shape: p.shape, data };
}
