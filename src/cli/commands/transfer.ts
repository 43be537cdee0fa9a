// `webgrad transfer`: a trained model (webgrad checkpoint or torchvision file) → new classes, frozen trunk, cached features.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { init } from '../../engine.js';
import { ArgumentError, FormatError, fileError } from '../../errors.js';
import { decodeTorchWeights, loadTorchWeights } from '../../io/torch.js';
import { decodeSafetensors } from '../../io/safetensors.js';
import { isZip } from '../../io/pth.js';
import { Adam } from '../../optim/adam.js';
import { loadModelCheckpoint, saveCheckpoint } from '../../train/checkpoint.js';
import { evaluate, fit, type EpochRecord } from '../../train/fit.js';
import { cacheFeatures, loadFeatures } from '../../transfer/cache.js';
import { FeatureHead, freezeTrunk, type TransferModel } from '../../transfer/stages.js';
import { buildZoo } from '../../zoo/build.js';
import { ZOO_ARCHS, type ZooArch } from '../../zoo/model.js';
import { loadDataset } from '../datasets.js';
import { report, type Command } from '../flags.js';
import { withOutDir } from '../out_dir.js';
import { percent } from '../format.js';

/** A torchvision state dict's class count: the length of its `fc.bias`. */
function classesOf(entries: ReturnType<typeof decodeTorchWeights>, path: string): number {
  const bias = entries['fc.bias'];
  if (!bias || bias.shape.length !== 1)
    throw new FormatError(`${path}: no fc.bias, so not a torchvision classifier`);
  return bias.shape[0];
}

/** Loads --from: a webgrad checkpoint (its config names the model) or a torchvision file built as --arch. */
async function loadFrom(
  path: string,
  arch: ZooArch | undefined,
  imageSize: number | undefined,
): Promise<TransferModel> {
  let bytes: Uint8Array;
  try {
    const b = await readFile(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw fileError('transfer', path, e);
  }
  if (!isZip(bytes) && decodeSafetensors(bytes, path).metadata.format === 'webgrad-checkpoint/1') {
    if (arch)
      throw new ArgumentError(
        `--arch: '${path}' is a webgrad checkpoint, whose config gives the architecture`,
      );
    const { model, optimizerState } = await loadModelCheckpoint(path);
    for (const t of Object.values(optimizerState)) t.dispose();
    return model;
  }
  if (!arch)
    throw new ArgumentError(
      `--arch is needed: '${path}' is a torchvision state dict, not a webgrad checkpoint`,
    );
  const size = imageSize ?? 224;
  const model = buildZoo({
    kind: 'zoo',
    arch,
    classes: classesOf(decodeTorchWeights(bytes, path), path),
    inputShape: [size, size, 3],
    seed: 0,
  });
  await loadTorchWeights(model, bytes);
  return model;
}

export const transferCommand: Command = {
  name: 'transfer',
  summary: 'transfer a trained model to new classes: frozen trunk, cached features, a new head',
  description:
    'Loads --from (a webgrad checkpoint, or a torchvision .pth/.safetensors state dict with --arch), replaces the\n' +
    "classifier head for the dataset's classes, freezes all but the head and the last --train-last stages, caches\n" +
    "the frozen trunk's outputs on disk once (--cache DIR, default OUT/features; --no-cache trains through the\n" +
    'trunk instead), trains the head on them, and writes the merged model to OUT/checkpoint.safetensors, which\n' +
    '`webgrad eval` reads. The test split is scored with the merged model on images.',
  flags: [
    {
      name: 'from',
      kind: 'string',
      metavar: 'FILE',
      help: 'webgrad checkpoint or torchvision state dict (.pth, .safetensors)',
    },
    {
      name: 'arch',
      kind: 'choice',
      choices: ZOO_ARCHS,
      help: 'the torchvision architecture of a --from state dict',
    },
    { name: 'dataset', kind: 'string', metavar: 'mnist|fashion-mnist|FOLDER', help: 'what to transfer to' },
    {
      name: 'classes',
      kind: 'string',
      metavar: 'auto|N',
      default: 'auto',
      help: "classes of the new head ('auto': the dataset's)",
    },
    { name: 'train-last', kind: 'int', min: 0, default: 0, help: 'trunk stages that train besides the head' },
    {
      name: 'cache',
      kind: 'string',
      metavar: 'DIR',
      help: 'feature cache directory (reused when fresh; default OUT/features)',
    },
    {
      name: 'no-cache',
      kind: 'boolean',
      help: 'train the head through the frozen trunk, without a feature cache',
    },
    {
      name: 'image-size',
      kind: 'int',
      min: 1,
      metavar: 'S',
      help: "folder images are resized to SxS (default: the model's input size)",
    },
    { name: 'epochs', kind: 'int', min: 1, default: 5, help: 'passes over the training set' },
    { name: 'batch-size', kind: 'int', min: 1, default: 32, help: 'items per step' },
    { name: 'lr', kind: 'number', positive: true, default: 0.01, help: 'Adam learning rate' },
    {
      name: 'out',
      kind: 'string',
      metavar: 'DIR',
      default: 'webgrad-transfer',
      help: 'where the merged checkpoint goes',
    },
    {
      name: 'limit',
      kind: 'int',
      min: 1,
      help: 'keep N images of each split, every class in turn (a quick run)',
    },
    { name: 'seed', kind: 'int', min: 0, default: 0, help: 'seed of the head, shuffles and folder splits' },
    { name: 'json', kind: 'boolean', help: 'print the summary as one JSON object on stdout' },
  ],
  async run(flags, io) {
    const started = performance.now();
    const from = flags.string('from');
    const datasetName = flags.string('dataset');
    if (!from) throw new ArgumentError('--from is required');
    if (!datasetName) throw new ArgumentError('--dataset is required');
    if (flags.gave('cache') && flags.boolean('no-cache'))
      throw new ArgumentError('--cache and --no-cache exclude each other');
    const classesFlag = flags.string('classes')!;
    if (classesFlag !== 'auto' && !/^[1-9]\d*$/.test(classesFlag)) {
      throw new ArgumentError(`--classes must be 'auto' or a positive integer, got '${classesFlag}'`);
    }
    // Before anything is loaded: a bad --out must not cost a whole run.
    const out = flags.string('out')!;
    return withOutDir('transfer --out', out, async () => {
      const info = await init();
      const imageSize = flags.number('image-size');
      const model = await loadFrom(from, flags.choice<ZooArch>('arch'), imageSize);
      const [h, w, channels] = model.config.inputShape;
      if (channels !== 1 && channels !== 3)
        throw new ArgumentError(`--from: models with ${channels} input channels cannot read images`);
      const image = {
        size: (imageSize ? [imageSize, imageSize] : [h, w]) as [number, number],
        channels: channels as 1 | 3,
      };
      const limit = flags.number('limit') ?? null;
      const seed = flags.number('seed')!;
      const trainSet = await loadDataset(datasetName, 'train', { limit, seed, image });
      const testSet = await loadDataset(datasetName, 'test', { limit, seed, image });
      if (trainSet.shape[2] !== channels) {
        throw new ArgumentError(
          `--dataset ${datasetName} has ${trainSet.shape[2]}-channel images, the model reads ${channels}`,
        );
      }
      const classes = classesFlag === 'auto' ? trainSet.classes.length : Number(classesFlag);
      if (classes < trainSet.classes.length) {
        throw new ArgumentError(
          `--classes ${classes} is fewer than the dataset's ${trainSet.classes.length} classes`,
        );
      }
      model.replaceHead(classes, seed + 2000);
      const upTo = freezeTrunk(model, { trainLast: flags.number('train-last')! });
      io.message(
        `webgrad: transfer ${from} → ${datasetName} (${trainSet.length} train, ${testSet.length} test images, ${classes} classes), frozen up to ${upTo}`,
      );
      io.message(`webgrad: adapter ${info.backend} (${info.description})`);
      const epochs = flags.number('epochs')!;
      const batchSize = flags.number('batch-size')!;
      const optimizer = new Adam(model.parameters(), { lr: flags.number('lr')! });
      let cacheSeconds = 0;
      let reused = false;
      let history: EpochRecord[];
      const onEpoch = (r: EpochRecord) =>
        io.message(
          `webgrad: epoch ${r.epoch}/${epochs}: loss ${r.loss.toFixed(4)} acc ${percent(r.accuracy)}, ${r.seconds.toFixed(2)} s`,
        );
      const cacheDir = flags.boolean('no-cache') ? null : (flags.string('cache') ?? join(out, 'features'));
      if (cacheDir) {
        const built = await cacheFeatures(model, trainSet, { dir: cacheDir, upTo, batchSize });
        cacheSeconds = built.reused ? 0 : built.seconds;
        reused = built.reused;
        io.message(
          `webgrad: ${reused ? 'reused' : 'built'} feature cache ${cacheDir} (${built.count} items of [${built.featureShape.join(', ')}]${reused ? '' : `, ${cacheSeconds.toFixed(1)} s`})`,
        );
        const features = await loadFeatures(cacheDir, { model });
        history = await fit(new FeatureHead(model, upTo), features, {
          epochs,
          batchSize,
          optimizer,
          seed,
          onEpoch,
        });
      } else {
        history = await fit(model, trainSet, { epochs, batchSize, optimizer, seed, onEpoch });
      }
      const result = await evaluate(model, testSet, { batchSize });
      const checkpoint = join(out, 'checkpoint.safetensors');
      await saveCheckpoint(checkpoint, model, {
        metadata: {
          dataset: datasetName,
          classes: JSON.stringify(trainSet.classes),
          transferredFrom: from,
          upTo,
        },
      });
      const seconds = (performance.now() - started) / 1000;
      io.message(`webgrad: wrote ${checkpoint}`);
      report(
        io,
        flags,
        `test accuracy ${percent(result.accuracy)}, loss ${result.loss.toFixed(4)}; ${seconds.toFixed(1)} s in all (cache ${cacheSeconds.toFixed(1)} s)`,
        {
          from,
          arch: 'arch' in model.config ? model.config.arch : model.config.kind,
          dataset: datasetName,
          classes,
          upTo,
          cache: cacheDir,
          cacheReused: reused,
          testAccuracy: result.accuracy,
          testLoss: result.loss,
          seconds,
          cacheSeconds,
          history,
          adapter: `${info.backend} (${info.description})`,
          checkpoint,
        },
      );
      model.dispose();
    });
  },
};
