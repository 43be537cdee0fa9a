// Classification metrics on the CPU from logits read back: loss, correct count, confusion matrix.

/** Index of the largest of `k` values starting at `offset` (the first one on ties). */
export function argmaxRow(values: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (values[offset + j] > values[offset + best]) best = j;
  return best;
}

/** Sum over rows of -log softmax(logits)[label], in float64 with max subtraction. */
export function crossEntropySum(logits: ArrayLike<number>, labels: ArrayLike<number>, k: number): number {
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[i * k + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[i * k + j] - max);
    total += Math.log(sum) + (max - logits[i * k + labels[i]]);
  }
  return total;
}

/** Adds predictions to a confusion matrix (rows: true class, columns: predicted) and returns the correct count. */
export function tallyPredictions(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  k: number,
  confusion?: number[][],
): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = argmaxRow(logits, i * k, k);
    if (p === labels[i]) correct++;
    if (confusion) confusion[labels[i]][p]++;
  }
  return correct;
}
