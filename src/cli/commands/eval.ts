// `webgrad eval`: scores one checkpoint, or an ensemble of several, on a test split, optionally with test-time crops.
import { stat } from 'node:fs/promises';
import { init } from '../../engine.js';
import { ArgumentError, FormatError, WebgradError } from '../../errors.js';
import type { Module } from '../../nn/module.js';
import { COMBINE_MODES, type CombineMode } from '../../ops/ensemble_combine.js';
import { loadModelCheckpoint, type CheckpointModel, type LoadedCheckpoint } from '../../train/checkpoint.js';
import { ensemble } from '../../train/ensemble.js';
import { evaluate } from '../../train/fit.js';
import { fiveCrop, flips, tenCrop, type TestTimeAugmentation } from '../../tta/views.js';
import { loadDataset, splitsBySeed } from '../datasets.js';
import { report, type Command, type Flags } from '../flags.js';
import { percent } from '../format.js';

const TTA_MODES = ['none', 'flip', '5crop', '10crop'] as const;

/** The --tta choice as an augmentation for images of `shape`; --tta-pad and --tta-crop only with crops. */
function augmentation(
  flags: Flags,
  shape: readonly number[],
  combine: CombineMode,
): TestTimeAugmentation | null {
  const mode = flags.choice<(typeof TTA_MODES)[number]>('tta')!;
  const crops = mode === '5crop' || mode === '10crop';
  for (const name of ['tta-pad', 'tta-crop']) {
    if (flags.gave(name) && !crops)
      throw new ArgumentError(`--${name} applies to --tta 5crop or 10crop only`);
  }
  if (mode === 'none') return null;
  if (mode === 'flip') return flips({ combine });
  const size = flags.number('tta-crop') ?? ([shape[0], shape[1]] as [number, number]);
  const options = { pad: flags.number('tta-pad')!, combine };
  return mode === '5crop' ? fiveCrop(size, options) : tenCrop(size, options);
}

/**
 * Refuses to score a checkpoint on a test set whose classes are not the ones it was trained on (labels are
 * positions in the class list: other names in the same count would be scored silently against the wrong ones).
 */
function checkSameClasses(
  path: string,
  stored: string | undefined,
  classes: string[],
  dataset: string,
): void {
  if (stored === undefined) return; // written by saveCheckpoint without the CLI's metadata
  let trained: unknown;
  try {
    trained = JSON.parse(stored);
  } catch {
    throw new FormatError(`${path}: the 'classes' metadata is not valid JSON`);
  }
  if (!Array.isArray(trained) || trained.join('/') !== classes.join('/')) {
    throw new ArgumentError(
      `checkpoint '${path}' was trained on the classes (${Array.isArray(trained) ? trained.join(', ') : String(trained)}), but the test split of ${dataset} has (${classes.join(', ')})`,
    );
  }
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'score a checkpoint, or an ensemble of several, on a test split',
  description:
    'Loads checkpoints written by `webgrad train` and evaluates them in inference mode on the test split of\n' +
    '--dataset (default: the dataset they were trained on). Several --checkpoint flags make an ensemble: every\n' +
    "member runs on each batch in one submit and their predictions are combined (--combine); each member's own\n" +
    'score is reported too. --tta predicts several views of each image (the image and its mirror; five or ten\n' +
    'crops of the image padded by --tta-pad) as one larger batch and combines them per image.',
  flags: [
    {
      name: 'checkpoint',
      kind: 'string',
      metavar: 'FILE',
      required: true,
      repeatable: true,
      help: 'a checkpoint.safetensors written by train; give several for an ensemble',
    },
    {
      name: 'dataset',
      kind: 'string',
      metavar: 'mnist|fashion-mnist|FOLDER',
      help: "the test data (default: the checkpoints' dataset)",
    },
    {
      name: 'tta',
      kind: 'choice',
      choices: TTA_MODES,
      default: 'none',
      help: 'test-time views: none, the image and its mirror, five crops, or ten (five and their mirrors)',
    },
    {
      name: 'tta-pad',
      kind: 'int',
      min: 0,
      default: 2,
      help: 'zero pixels around each image before 5crop/10crop',
    },
    {
      name: 'tta-crop',
      kind: 'int',
      min: 1,
      help: 'side of the 5crop/10crop crops (default: the image size)',
    },
    {
      name: 'combine',
      kind: 'choice',
      choices: COMBINE_MODES,
      default: 'mean-prob',
      help: 'how predictions of members and of views are combined',
    },
    { name: 'batch-size', kind: 'int', min: 1, default: 500, help: 'images (views included) per forward' },
    { name: 'limit', kind: 'int', min: 1, help: 'keep the first N test images' },
    { name: 'json', kind: 'boolean', help: 'print the result as one JSON object on stdout' },
  ],
  async run(flags, io) {
    const paths = flags.strings('checkpoint');
    for (const path of paths) {
      await stat(path).catch(() => {
        throw new WebgradError(`checkpoint '${path}' does not exist`);
      });
    }
    const info = await init();
    const loaded: ({ path: string } & LoadedCheckpoint<CheckpointModel>)[] = [];
    for (const path of paths) {
      const checkpoint = await loadModelCheckpoint(path);
      for (const t of Object.values(checkpoint.optimizerState)) t.dispose();
      loaded.push({ path, ...checkpoint });
    }
    const first = loaded[0];
    for (const c of loaded.slice(1)) {
      if (c.model.config.classes !== first.model.config.classes) {
        throw new ArgumentError(
          `checkpoint '${c.path}' predicts ${c.model.config.classes} classes, '${first.path}' ${first.model.config.classes}: an ensemble's members must predict the same classes`,
        );
      }
      if (!flags.gave('dataset') && c.metadata.dataset !== first.metadata.dataset) {
        throw new ArgumentError(
          `checkpoint '${c.path}' was trained on ${c.metadata.dataset ?? 'an unnamed dataset'}, '${first.path}' on ${first.metadata.dataset ?? 'an unnamed dataset'}; pass --dataset to evaluate them together`,
        );
      }
    }
    const dataset = flags.string('dataset') ?? first.metadata.dataset;
    if (!dataset) throw new WebgradError('the checkpoint names no dataset; pass --dataset');
    // A single folder is split 80/20 by the training seed, which the checkpoint records; other datasets
    // have fixed splits, so members trained with different seeds (train --ensemble) score on the same images.
    const bySeed = await splitsBySeed(dataset);
    const seeds = new Set(loaded.map((c) => (bySeed ? (c.metadata.splitSeed ?? '0') : '0')));
    if (seeds.size > 1) {
      throw new ArgumentError(
        `the checkpoints were trained with different --seed values (${[...seeds].join(', ')}), so a single folder was split differently for each`,
      );
    }
    const seed = Number([...seeds][0]);
    // Folder images are read at the size and channels the model was trained on (RGB for a zoo model).
    const [h, w, c] = first.model.config.inputShape;
    const image = c === 1 || c === 3 ? { size: [h, w] as [number, number], channels: c as 1 | 3 } : undefined;
    const testSet = await loadDataset(dataset, 'test', { limit: flags.number('limit') ?? null, seed, image });
    for (const c of loaded) checkSameClasses(c.path, c.metadata.classes, testSet.classes, dataset);
    const combine = flags.choice<CombineMode>('combine')!;
    const tta = augmentation(flags, testSet.shape, combine);
    const model: Module =
      loaded.length > 1
        ? ensemble(
            loaded.map((c) => c.model),
            { combine },
          )
        : first.model;
    const batchSize = flags.number('batch-size')!;
    const result = await evaluate(model, testSet, { tta, batchSize, maxBatch: batchSize });
    const ttaName = flags.choice<string>('tta')!;
    const line =
      `${dataset} test accuracy ${percent(result.accuracy)}, loss ${result.loss.toFixed(4)}` +
      `${loaded.length > 1 ? ` (${loaded.length} members, ${combine})` : ''}${tta ? `, tta ${ttaName}` : ''}` +
      `; ${result.imagesPerSecond.toFixed(0)} images/s`;
    const members = result.members?.map((m, i) => ({
      checkpoint: loaded[i].path,
      testAccuracy: m.accuracy,
      testLoss: m.loss,
    }));
    if (!flags.boolean('json')) {
      for (const m of members ?? [])
        io.message(
          `webgrad: member ${m.checkpoint}: accuracy ${percent(m.testAccuracy)}, loss ${m.testLoss.toFixed(4)}`,
        );
    }
    report(io, flags, line, {
      dataset,
      testAccuracy: result.accuracy,
      testLoss: result.loss,
      ...(members ? { members } : {}),
      tta: ttaName,
      ...(tta && tta.size ? { ttaCrop: tta.size[0], ttaPad: tta.pad } : {}),
      combine,
      confusion: result.confusion,
      images: testSet.length,
      seconds: result.seconds,
      imagesPerSecond: result.imagesPerSecond,
      adapter: `${info.backend} (${info.description})`,
    });
  },
};
