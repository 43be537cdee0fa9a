// Training and evaluation loops: one submit per step, metrics read back without extra submits.
import { ArgumentError, fmtShape } from '../errors.js';
import type { Tensor } from '../graph/tensor.js';
import { tidy } from '../graph/tidy.js';
import { batches, type Dataset } from '../data/dataset.js';
import type { Module } from '../nn/module.js';
import { softmaxCrossEntropy } from '../ops/softmax_cross_entropy.js';
import type { Optimizer } from '../optim/optimizer.js';
import { checkInteger, checkOptionKeys } from '../options.js';
import { predictMembers } from '../tta/predict.js';
import { viewCount, type TestTimeAugmentation } from '../tta/views.js';
import { Ensemble } from './ensemble.js';
import { crossEntropySum, tallyPredictions } from './metrics.js';

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  imagesPerSecond: number;
  seconds: number;
  lr: number;
}

export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  optimizer: Optimizer;
  /** Learning rate per optimizer step (0-based), e.g. from `cosineSchedule`; default: the optimizer's own. */
  schedule?: (step: number) => number;
  /** Evaluated after every epoch. */
  validation?: Dataset;
  /** Seed of the per-epoch shuffles (default 0). */
  seed?: number;
  onBatch?: (p: BatchProgress) => void;
  onEpoch?: (r: EpochRecord) => void;
}

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** confusion[trueClass][predictedClass] = count. */
  confusion: number[][];
  /** For an ensemble, each member's loss and accuracy, from the same forwards (with the same tta). */
  members?: { loss: number; accuracy: number }[];
  /** Wall time of the evaluation (uploads, forwards, readbacks, metrics) and test images per second of it. */
  seconds: number;
  imagesPerSecond: number;
}

export interface EvaluateOptions {
  /** Images per batch (default 500). */
  batchSize?: number;
  /** Test-time augmentation (`wg.tta.tenCrop(28, { pad: 2 })`, ...): every view predicted, combined per image. */
  tta?: TestTimeAugmentation | null;
  /**
   * Most images one forward runs, views included (default batchSize): with V views a batch holds at most
   * floor(maxBatch / V) images, so memory stays that of a plain batch of maxBatch.
   */
  maxBatch?: number;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0)
    throw new ArgumentError(`fit: ${name} must be a positive integer, got ${v}`);
}

/**
 * Trains `model` (logits [N,classes]) with softmax cross-entropy. Each step records forward, backward and
 * update and submits them once; the loss and logits of a step are read back with that same submit.
 */
export async function fit(model: Module, data: Dataset, options: FitOptions): Promise<EpochRecord[]> {
  positiveInt('epochs', options.epochs);
  positiveInt('batchSize', options.batchSize);
  if (data.length === 0) throw new ArgumentError('fit: the training set is empty');
  const { optimizer, schedule } = options;
  const k = data.classes.length;
  const history: EpochRecord[] = [];
  let step = 0;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    model.train();
    const start = performance.now();
    let seen = 0;
    let lossSum = 0;
    let correct = 0;
    const total = Math.ceil(data.length / options.batchSize);
    let batchIndex = 0;
    let previous: Promise<void> | null = null;
    for (const { x, y, labels } of batches(data, options.batchSize, {
      shuffle: true,
      seed: (options.seed ?? 0) * 1000 + epoch,
    })) {
      const { loss, logits } = tidy(() => {
        const logits: Tensor = model.forward(x);
        const loss = softmaxCrossEntropy(logits, y);
        loss.backward();
        return { loss, logits };
      });
      const reads = Promise.all([loss.dataOnFlush(), logits.dataOnFlush()]);
      reads.catch(() => undefined); // awaited below; if an earlier step throws first, this one is abandoned
      if (schedule) optimizer.lr = schedule(step);
      optimizer.step();
      optimizer.zeroGrad();
      step++;
      for (const t of [x, y, loss, logits]) t.dispose();
      // Tally step i while step i+1 is being recorded: the device never waits for the CPU.
      await previous;
      const n = labels.length;
      batchIndex++;
      const at = batchIndex;
      previous = reads.then(([l, z]) => {
        lossSum += l[0] * n;
        correct += tallyPredictions(z, labels, k);
        seen += n;
        const seconds = (performance.now() - start) / 1000;
        options.onBatch?.({
          epoch,
          batch: at,
          batches: total,
          loss: lossSum / seen,
          accuracy: correct / seen,
          imagesPerSecond: seen / seconds,
        });
      });
    }
    await previous;
    const seconds = (performance.now() - start) / 1000;
    const record: EpochRecord = {
      epoch,
      loss: lossSum / seen,
      accuracy: correct / seen,
      imagesPerSecond: seen / seconds,
      seconds,
      lr: optimizer.lr,
    };
    if (options.validation) {
      const v = await evaluate(model, options.validation);
      record.valLoss = v.loss;
      record.valAccuracy = v.accuracy;
    }
    history.push(record);
    options.onEpoch?.(record);
  }
  return history;
}

/**
 * Loss, accuracy and confusion matrix of `model` in inference mode (running batch-norm statistics); with
 * `tta`, of the views' combined prediction; for an ensemble, also each member's. The loss is the mean
 * softmax cross-entropy of the combined scores (for mean-prob: -log of the mean probability of the label).
 * All models' forwards of a batch go into one submit, read back with it.
 */
export async function evaluate(
  model: Module,
  data: Dataset,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  checkOptionKeys('evaluate', options, ['batchSize', 'tta', 'maxBatch']);
  const { batchSize = 500, tta = null } = options;
  const maxBatch = options.maxBatch ?? batchSize;
  checkInteger('evaluate', 'batchSize', batchSize, 1);
  checkInteger('evaluate', 'maxBatch', maxBatch, 1);
  if (data.length === 0) throw new ArgumentError('evaluate: the dataset is empty');
  const started = performance.now();
  const k = data.classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const memberCount = model instanceof Ensemble ? model.members.length : 0;
  const memberSums = Array.from({ length: memberCount }, () => ({ loss: 0, correct: 0 }));
  const imagesPerBatch = Math.min(batchSize, Math.max(1, Math.floor(maxBatch / (tta ? viewCount(tta) : 1))));
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0;
  let correct = 0;
  try {
    for (const { x, y, labels } of batches(data, imagesPerBatch, { shuffle: false })) {
      const { combined, members } = tidy(() => predictMembers(model, x, tta));
      if (combined.shape.length !== 2 || combined.shape[1] !== k) {
        for (const t of [x, y, combined, ...(members ?? [])]) t.dispose();
        throw new ArgumentError(
          `evaluate: the model gives scores of shape ${fmtShape(combined.shape)} for ${labels.length} images, expected [${labels.length},${k}] for the dataset's ${k} classes (a head for another class count? see replaceHead)`,
        );
      }
      // The members' copies ride along in the submit that reads the combined scores.
      const memberReads = (members ?? []).map((t) => t.dataOnFlush());
      const z = await combined.data();
      const zs = await Promise.all(memberReads);
      for (const t of [x, y, combined, ...(members ?? [])]) t.dispose();
      lossSum += crossEntropySum(z, labels, k);
      correct += tallyPredictions(z, labels, k, confusion);
      zs.forEach((zm, i) => {
        memberSums[i].loss += crossEntropySum(zm, labels, k);
        memberSums[i].correct += tallyPredictions(zm, labels, k);
      });
    }
  } finally {
    model.train(wasTraining);
  }
  const seconds = (performance.now() - started) / 1000;
  const result: Evaluation = {
    loss: lossSum / data.length,
    accuracy: correct / data.length,
    confusion,
    seconds,
    imagesPerSecond: data.length / seconds,
  };
  if (memberCount > 0) {
    result.members = memberSums.map((m) => ({
      loss: m.loss / data.length,
      accuracy: m.correct / data.length,
    }));
  }
  return result;
}
