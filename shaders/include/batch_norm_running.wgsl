// batch_norm_running (included by batch_norm_update and batch_norm_train_single): the in-place running averages of
// channel group c, Keras's momentum convention, from the batch mean and biased variance:
//   runningMean = momentum * runningMean + (1 - momentum) * mean,
//   runningVar = momentum * runningVar + (1 - momentum) * variance * varianceScale
// (varianceScale 1 keeps the biased variance, as Keras 3; rows / (rows - 1) makes it the unbiased one, as PyTorch).
// The includer declares runningMean, runningVar (read_write, [cv] V) and p.momentum, p.varianceScale.
fn updateRunning(c: u32, batchMean: V, batchVar: V) {
  runningMean[c] = runningMean[c] * p.momentum + batchMean * (1.0 - p.momentum);
  runningVar[c] = runningVar[c] * p.momentum + batchVar * p.varianceScale * (1.0 - p.momentum);
}
