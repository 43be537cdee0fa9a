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

/** Whether a row counts in the loss: its label is in [0, K) and is not the ignore index. */
function counted(label: number, k: number, ignoreIndex: number | null): boolean {
  return Number.isInteger(label) && label >= 0 && label < k && label !== ignoreIndex;
}

/**
 * Mean over counted rows of -log softmax(logits)[label] (rows with the ignore index or a label outside [0, K)
 * add nothing and are not counted; NaN when none is), the probabilities, and 1 / count (0 when none).
 * Shapes: logits [N,K], labels [N] → [loss [], probs [N,K], invCount []].
 */
export function refSoftmaxCrossEntropy(
  logits: RefTensor,
  labels: RefTensor,
  ignoreIndex: number | null = null,
): RefTensor[] {
  const [rows, k] = logits.shape;
  const probs = refSoftmax(logits);
  let total = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const label = labels.data[r];
    if (!counted(label, k, ignoreIndex)) continue;
    // log-sum-exp form, the difference first: exact for huge tied logits, finite when probabilities underflow.
    const row = logits.data.subarray(r * k, (r + 1) * k);
    const mx = row.reduce((a, v) => Math.max(a, v), -Infinity);
    const s = row.reduce((a, v) => a + Math.exp(v - mx), 0);
    total += Math.log(s) + (mx - row[label]);
    count++;
  }
  return [
    { shape: [], data: Float64Array.of(count > 0 ? total / count : NaN) },
    probs,
    { shape: [], data: Float64Array.of(count > 0 ? 1 / count : 0) },
  ];
}

/**
 * dlogits = (p * [row counted] - onehot) * dy * invCount.
 * Shapes: dy [], p [N,K], labels [N], invCount [] → [N,K].
 */
export function refSoftmaxCrossEntropyBackward(
  dy: RefTensor,
  p: RefTensor,
  labels: RefTensor,
  invCount: RefTensor,
  ignoreIndex: number | null = null,
): RefTensor {
  const [rows, k] = p.shape;
  const data = new Float64Array(p.data.length);
  for (let r = 0; r < rows; r++) {
    const label = labels.data[r];
    const valid = counted(label, k, ignoreIndex);
    for (let c = 0; c < k; c++) {
      const g = (valid ? p.data[r * k + c] : 0) - (valid && c === label ? 1 : 0);
      data[r * k + c] = g * dy.data[0] * invCount.data[0];
    }
  }
  return { shape: p.shape, data };
}
