// Training and evaluation loops: one submit per step, metrics read back without extra submits.
import type { BatchLoader } from '../augment/loader.js';
import type { AugmentSpec } from '../augment/spec.js';
import { ArgumentError, fmtShape } from '../errors.js';
import { tensor } from '../graph/create.js';
import type { Tensor } from '../graph/tensor.js';
import { tidy } from '../graph/tidy.js';
import { batches, type Dataset } from '../data/dataset.js';
import type { ImageFolderIndex } from '../data/folder.js';
import { add } from '../ops/arithmetic.js';
import { scale } from '../ops/scale.js';
import type { Module } from '../nn/module.js';
import { softmaxCrossEntropy } from '../ops/softmax_cross_entropy.js';
import type { Optimizer } from '../optim/optimizer.js';
import { checkInteger, checkOptionKeys } from '../options.js';
import { checkDataset, checkFitArguments, checkModel, scheduledRate } from './checks.js';
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
  /** Seconds of the epoch the training loop waited for a batch (augmentation or decoding not done yet). */
  dataWaitSeconds: number;
  /** dataWaitSeconds / seconds: 0 when the workers keep up. */
  dataWaitFraction: number;
}

export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  /** Share of the epoch so far spent waiting for batches. */
  dataWaitFraction: number;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  optimizer: Optimizer;
  /** Learning rate per optimizer step (0-based), e.g. from `cosineSchedule`; default: the optimizer's own. */
  schedule?: (step: number) => number;
  /** Evaluated after every epoch. */
  validation?: Dataset;
  /** Seed of the per-epoch shuffles and of the augmentation (default 0). */
  seed?: number;
  /**
   * Augmentation of the training batches: a preset ('standard', 'digits'), the text form
   * ('crop:pad=4;flip;mixup:alpha=0.2') or steps (see docs/augmentation.md). Default none. With mixup or cutmix
   * the loss is l CE(z, y) + (1 - l) CE(z, y[perm]), and accuracy counts the label with the larger weight.
   */
  augment?: string | AugmentSpec | null;
  /**
   * Worker threads that fill (read or decode, augment) batches while the device trains. Default: cores minus
   * one (at least 1) with `augment` or a streamed folder, else 0 (batches gathered on this thread, between
   * steps). The worker count never changes results.
   */
  workers?: number;
  /** Batches filled ahead of the current one (default 2). */
  prefetch?: number;
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

/**
 * Trains `model` (logits [N,classes]) with softmax cross-entropy. Each step records forward, backward and
 * update and submits them once; the loss and logits of a step are read back with that same submit. Batches
 * come from a BatchLoader: the batch of (seed, epoch, step) is the same with any number of workers, and the
 * workers are shut down when fit returns or throws.
 */
export async function fit(
  model: Module,
  data: Dataset | ImageFolderIndex,
  options: FitOptions,
): Promise<EpochRecord[]> {
  checkFitArguments(model, data, options);
  // Loaded on first use: the augmentation code (and wgpu-matrix) stays out of the core module graph.
  const { BatchLoader } = await import('../augment/loader.js');
  const { defaultWorkers } = await import('../augment/pool.js');
  const augment = options.augment ?? null;
  const streamed = 'kind' in data;
  const loader = await BatchLoader.open(data, {
    batchSize: options.batchSize,
    epochs: options.epochs,
    augment,
    workers: options.workers ?? (augment || streamed ? await defaultWorkers() : 0),
    prefetch: options.prefetch ?? 2,
    seed: options.seed ?? 0,
  });
  try {
    return await trainEpochs(model, data, options, loader);
  } finally {
    await loader.close();
  }
}

async function trainEpochs(
  model: Module,
  data: Dataset | ImageFolderIndex,
  options: FitOptions,
  loader: BatchLoader,
): Promise<EpochRecord[]> {
  const { optimizer, schedule } = options;
  const k = data.classes.length;
  const [h, w, c] = data.shape;
  const history: EpochRecord[] = [];
  let step = 0;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    model.train();
    const start = performance.now();
    const waitAtStart = loader.waitSeconds;
    let seen = 0;
    let lossSum = 0;
    let correct = 0;
    const total = loader.stepsPerEpoch;
    let previous: Promise<void> | null = null;
    for (let batchIndex = 1; batchIndex <= total; batchIndex++) {
      // Before the step is recorded: a bad rate leaves nothing half-built.
      if (schedule) optimizer.lr = scheduledRate(schedule, step);
      const batch = (await loader.next())!;
      const n = batch.size;
      const x = tensor(batch.images, [n, h, w, c]);
      const y = tensor(batch.labels, [n], { dtype: 'int32' });
      const mixed = batch.lambda < 1;
      const y2 = mixed ? tensor(batch.mixLabels, [n], { dtype: 'int32' }) : null;
      const lambda = batch.lambda;
      // The labels that count for accuracy: the ones with the larger weight. Copied: the batch is reused.
      const labels = (lambda >= 0.5 ? batch.labels : batch.mixLabels).slice();
      const { loss, logits } = tidy(() => {
        const logits: Tensor = model.forward(x);
        const loss = y2
          ? add(
              scale(softmaxCrossEntropy(logits, y), lambda),
              scale(softmaxCrossEntropy(logits, y2), 1 - lambda),
            )
          : softmaxCrossEntropy(logits, y);
        loss.backward();
        return { loss, logits };
      });
      const reads = Promise.all([loss.dataOnFlush(), logits.dataOnFlush()]);
      reads.catch(() => undefined); // awaited below; if an earlier step throws first, this one is abandoned
      optimizer.step();
      optimizer.zeroGrad();
      step++;
      for (const t of [x, y, y2, loss, logits]) t?.dispose();
      // Tally step i while step i+1 is being recorded: the device never waits for the CPU.
      await previous;
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
          dataWaitFraction: (loader.waitSeconds - waitAtStart) / seconds,
        });
      });
    }
    await previous;
    const seconds = (performance.now() - start) / 1000;
    const dataWaitSeconds = loader.waitSeconds - waitAtStart;
    const record: EpochRecord = {
      epoch,
      loss: lossSum / seen,
      accuracy: correct / seen,
      imagesPerSecond: seen / seconds,
      seconds,
      lr: optimizer.lr,
      dataWaitSeconds,
      dataWaitFraction: dataWaitSeconds / seconds,
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
  checkModel('evaluate', model);
  checkOptionKeys('evaluate', options, ['batchSize', 'tta', 'maxBatch']);
  const { batchSize = 500, tta = null } = options;
  const maxBatch = options.maxBatch ?? batchSize;
  checkInteger('evaluate', 'batchSize', batchSize, 1);
  checkInteger('evaluate', 'maxBatch', maxBatch, 1);
  checkDataset('evaluate', 'data', data);
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
