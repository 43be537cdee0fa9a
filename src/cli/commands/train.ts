// `webgrad train`: trains a ResNet or Inception network on MNIST, Fashion-MNIST or an image folder.
import { join } from 'node:path';
import { init } from '../../engine.js';
import { ArgumentError } from '../../errors.js';
import { inception, resnet } from '../../nn/models.js';
import { Adam } from '../../optim/adam.js';
import { cosineSchedule } from '../../optim/schedule.js';
import { SGD } from '../../optim/sgd.js';
import { saveCheckpoint } from '../../train/checkpoint.js';
import { fit, type EpochRecord } from '../../train/fit.js';
import { defaultWorkers } from '../../augment/pool.js';
import { parseSpec } from '../../augment/spec.js';
import { folderImage, loadDataset, loadTrainSource } from '../datasets.js';
import { withOutDir, writeOutFile } from '../out_dir.js';
import { report, type Command } from '../flags.js';
import { percent } from '../format.js';
import { historySvg } from '../plot.js';
import { profileTrainStep } from '../profile_step.js';
import { ProgressBar } from '../progress.js';
import { trainEnsemble } from './train_ensemble.js';

/** Defaults of `webgrad train`: the README's main job (MNIST, ResNet). */
export const TRAIN_DEFAULTS = {
  model: 'resnet',
  dataset: 'mnist',
  epochs: 3,
  batchSize: 128,
  optimizer: 'adam',
  lr: 0.01,
  out: 'webgrad-run',
} as const;

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a ResNet or Inception network on MNIST, Fashion-MNIST or an image folder',
  description:
    'Trains with softmax cross-entropy and a cosine learning-rate schedule with warm-up, evaluates on the test\n' +
    'split after every epoch, and writes checkpoint.safetensors, history.json and history.svg to --out.\n' +
    '--dataset takes mnist, fashion-mnist, or a folder of class subfolders of PNG/JPEG images (with train/ and\n' +
    'test/ subfolders, or split 80/20 by --seed).',
  flags: [
    {
      name: 'model',
      kind: 'choice',
      choices: ['resnet', 'inception'],
      default: TRAIN_DEFAULTS.model,
      help: 'the architecture',
    },
    {
      name: 'dataset',
      kind: 'string',
      metavar: 'mnist|fashion-mnist|FOLDER',
      default: TRAIN_DEFAULTS.dataset,
      help: 'what to train on',
    },
    {
      name: 'epochs',
      kind: 'int',
      min: 1,
      default: TRAIN_DEFAULTS.epochs,
      help: 'passes over the training set',
    },
    {
      name: 'batch-size',
      kind: 'int',
      min: 1,
      default: TRAIN_DEFAULTS.batchSize,
      help: 'images per step',
    },
    {
      name: 'optimizer',
      kind: 'choice',
      choices: ['sgd', 'adam'],
      default: TRAIN_DEFAULTS.optimizer,
      help: 'Adam, or SGD with Nesterov momentum 0.9 and weight decay 5e-4',
    },
    { name: 'lr', kind: 'number', positive: true, default: TRAIN_DEFAULTS.lr, help: 'peak learning rate' },
    {
      name: 'width',
      kind: 'int',
      min: 1,
      help: 'ResNet only: channels of the first stage (stages have N, 2N, 4N; default 8)',
    },
    { name: 'out', kind: 'string', metavar: 'DIR', default: TRAIN_DEFAULTS.out, help: 'where results go' },
    {
      name: 'limit',
      kind: 'int',
      min: 1,
      help: 'keep N images of each split, every class in turn (a quick run)',
    },
    { name: 'seed', kind: 'int', min: 0, default: 0, help: 'seed of weights, shuffles and folder splits' },
    {
      name: 'image-size',
      kind: 'int',
      min: 8,
      metavar: 'S',
      help: 'image folders: resize images to SxS (default 28)',
    },
    {
      name: 'channels',
      kind: 'choice',
      choices: ['1', '3'],
      help: 'image folders: 1 (grayscale, the default) or 3 (RGB)',
    },
    { name: 'json', kind: 'boolean', help: 'print the summary as one JSON object on stdout' },
    {
      name: 'augment',
      kind: 'string',
      metavar: 'PRESET|SPEC',
      help: "augment training batches: standard, digits, or steps like 'crop:pad=4;flip;mixup:alpha=0.2' (docs/augmentation.md)",
    },
    {
      name: 'workers',
      kind: 'int',
      min: 0,
      help: 'worker threads that read, decode and augment batches (default: cores minus one, at least 1; 0: none)',
    },
    {
      name: 'prefetch',
      kind: 'int',
      min: 1,
      default: 2,
      help: 'batches prepared ahead of the one training',
    },
    {
      name: 'ensemble',
      kind: 'int',
      min: 1,
      help: 'train K members with seeds seed .. seed+K-1 into --out/member-<k>, then score their ensemble',
    },
    {
      name: 'profile',
      kind: 'boolean',
      help: 'after training, time one training step kernel by kernel and print the top kernels (wg.profile)',
    },
  ],
  async run(flags, io) {
    // A malformed spec is refused before the data is loaded and the device opened (its shape is checked in fit).
    const augment = flags.string('augment');
    if (augment !== undefined) parseSpec(augment);
    if (flags.gave('ensemble') && flags.boolean('profile'))
      throw new ArgumentError('--profile times one model: it does not apply to --ensemble');
    if (flags.gave('ensemble')) return trainEnsemble(trainCommand, flags, io);
    const started = performance.now();
    const modelName = flags.choice<'resnet' | 'inception'>('model')!;
    if (flags.gave('width') && modelName !== 'resnet')
      throw new ArgumentError('--width applies to --model resnet only');
    const datasetName = flags.string('dataset')!;
    const epochs = flags.number('epochs')!;
    const batchSize = flags.number('batch-size')!;
    const lr = flags.number('lr')!;
    const seed = flags.number('seed')!;
    const out = flags.string('out')!;
    const limit = flags.number('limit') ?? null;
    const channels = flags.choice<'1' | '3'>('channels');
    const image = folderImage(datasetName, flags.number('image-size'), channels && Number(channels));
    // Before loading anything: a bad --out must not cost a whole training run.
    return withOutDir('train --out', out, async () => {
      const trainSet = await loadTrainSource(datasetName, { limit, seed, image });
      const testSet = await loadDataset(datasetName, 'test', { limit, seed, image });
      const info = await init();
      io.message(
        `webgrad: ${modelName} on ${datasetName} (${trainSet.length} train, ${testSet.length} test images)`,
      );
      io.message(`webgrad: adapter ${info.backend} (${info.description})`);
      const common = { inputShape: trainSet.shape, classes: trainSet.classes.length, seed };
      const w = flags.number('width');
      const model =
        modelName === 'resnet'
          ? resnet(w ? { ...common, widths: [w, 2 * w, 4 * w] } : common)
          : inception(common);
      const params = model.parameters();
      const optimizer =
        flags.choice('optimizer') === 'adam'
          ? new Adam(params, { lr })
          : new SGD(params, { lr, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
      const total = Math.ceil(trainSet.length / batchSize) * epochs;
      const schedule = cosineSchedule({ base: lr, total, warmup: Math.min(100, Math.floor(total / 10)) });
      let bar: ProgressBar | null = null;
      const history: EpochRecord[] = await fit(model, trainSet, {
        epochs,
        batchSize,
        optimizer,
        schedule,
        validation: testSet,
        seed,
        augment: augment ?? null,
        workers: flags.number('workers') ?? (await defaultWorkers()),
        prefetch: flags.number('prefetch')!,
        onBatch: (p) => {
          if (!io.progress) return;
          if (p.batch === 1) bar = new ProgressBar(io.progress, `epoch ${p.epoch}/${epochs}`, p.batches);
          bar?.update(
            p.batch,
            `loss ${p.loss.toFixed(4)} acc ${percent(p.accuracy)} ${p.imagesPerSecond.toFixed(0)} img/s, data wait ${percent(p.dataWaitFraction)}`,
          );
        },
        onEpoch: (r) =>
          bar?.finish(
            `loss ${r.loss.toFixed(4)} acc ${percent(r.accuracy)} | test loss ${r.valLoss!.toFixed(4)} acc ${percent(r.valAccuracy!)} | ${r.imagesPerSecond.toFixed(0)} img/s, ${r.seconds.toFixed(1)} s, data wait ${percent(r.dataWaitFraction)}`,
          ),
      });
      // The last epoch's validation already evaluated the final weights on the test set.
      const last = history[history.length - 1];
      const final = { accuracy: last.valAccuracy!, loss: last.valLoss! };
      const checkpoint = join(out, 'checkpoint.safetensors');
      await saveCheckpoint(checkpoint, model, {
        optimizer,
        metadata: {
          dataset: datasetName,
          // A single folder is split by this seed: eval must hold out the same images.
          splitSeed: String(seed),
          classes: JSON.stringify(trainSet.classes),
          epochs: String(epochs),
        },
      });
      await writeOutFile('train', join(out, 'history.json'), JSON.stringify(history, null, 2) + '\n');
      await writeOutFile(
        'train',
        join(out, 'history.svg'),
        historySvg(
          [
            { name: 'train loss', values: history.map((h) => h.loss), color: '#1f77b4' },
            { name: 'test loss', values: history.map((h) => h.valLoss!), color: '#ff7f0e' },
          ],
          [
            { name: 'train accuracy', values: history.map((h) => h.accuracy), color: '#1f77b4' },
            { name: 'test accuracy', values: history.map((h) => h.valAccuracy!), color: '#ff7f0e' },
          ],
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      const trainSeconds = history.reduce((s, h) => s + h.seconds, 0);
      io.message(`webgrad: wrote ${checkpoint}, history.json, history.svg`);
      if (flags.boolean('profile')) io.message(await profileTrainStep(model, optimizer, testSet, batchSize));
      const line = `test accuracy ${percent(final.accuracy)}, loss ${final.loss.toFixed(4)}; ${seconds.toFixed(0)} s in all`;
      report(io, flags, line, {
        model: modelName,
        dataset: datasetName,
        testAccuracy: final.accuracy,
        testLoss: final.loss,
        epochs,
        seconds,
        imagesPerSecond: (trainSet.length * epochs) / trainSeconds,
        dataWaitFraction: history.reduce((s, h) => s + h.dataWaitSeconds, 0) / trainSeconds,
        adapter: `${info.backend} (${info.description})`,
        checkpoint,
      });
    });
  },
};
