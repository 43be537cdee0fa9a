// Argument checks of fit and evaluate: options, optimizer, schedule and datasets, before anything is loaded or recorded.
import type { Dataset } from '../data/dataset.js';
import type { ImageFolderIndex } from '../data/folder.js';
import { ArgumentError, fmtShape } from '../errors.js';
import { Module } from '../nn/module.js';
import { Optimizer } from '../optim/optimizer.js';
import { checkInteger, checkOptionKeys } from '../options.js';
import type { FitOptions } from './fit.js';

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0)
    throw new ArgumentError(`fit: ${name} must be a positive integer, got ${v}`);
}

const FIT_OPTIONS = [
  'epochs',
  'batchSize',
  'optimizer',
  'schedule',
  'validation',
  'seed',
  'augment',
  'workers',
  'prefetch',
  'onBatch',
  'onEpoch',
] as const satisfies readonly (keyof FitOptions)[];

/**
 * ArgumentError unless `data` is a non-empty dataset of `[H, W, C]` images: as many values and labels as it says, every
 * label an integer in [0, classes).
 */
export function checkDataset(owner: string, name: string, data: Dataset | ImageFolderIndex): void {
  const shape = (data as Partial<Dataset> | null)?.shape;
  const classes = (data as Partial<Dataset> | null)?.classes;
  if (
    !Array.isArray(shape) ||
    shape.length !== 3 ||
    !shape.every((d) => Number.isInteger(d) && d > 0) ||
    !Array.isArray(classes) ||
    !Number.isInteger(data.length)
  ) {
    throw new ArgumentError(
      `${owner}: argument '${name}' must be a Dataset ({ images, labels, shape: [H, W, C], classes, length }) or a listed image folder`,
    );
  }
  if (data.length === 0) throw new ArgumentError(`${owner}: argument '${name}' is empty`);
  if ('kind' in data) return; // a listed folder: its labels come from its own subfolders
  const per = shape[0] * shape[1] * shape[2];
  if (data.images?.length !== data.length * per || data.labels?.length !== data.length) {
    throw new ArgumentError(
      `${owner}: argument '${name}' holds ${data.length} images of shape ${fmtShape(shape)}, which needs ${data.length * per} values and ${data.length} labels, got ${data.images?.length} and ${data.labels?.length}`,
    );
  }
  // Checked on the host, once: a bad label would index past the confusion matrix or train on a wrong row.
  const k = classes.length;
  const bad = data.labels.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= k);
  if (bad >= 0) {
    throw new ArgumentError(
      `${owner}: argument '${name}' has labels[${bad}] = ${data.labels[bad]}, outside [0, ${k}) for its ${k} classes`,
    );
  }
}

/** ArgumentError unless `model` is a Module (a Network, an Ensemble, a Sequential, ...). */
export function checkModel(owner: string, model: unknown): void {
  if (!(model instanceof Module)) {
    throw new ArgumentError(
      `${owner}: argument 'model' must be a Module (a Network, Ensemble, Sequential, ...), got ${String(model)}`,
    );
  }
}

/** Every argument of fit, before anything is loaded or recorded: a typo or a wrong type is never ignored. */
export function checkFitArguments(
  model: Module,
  data: Dataset | ImageFolderIndex,
  options: FitOptions,
): void {
  checkModel('fit', model);
  checkOptionKeys('fit', options, FIT_OPTIONS);
  positiveInt('epochs', options.epochs);
  positiveInt('batchSize', options.batchSize);
  if (!(options.optimizer instanceof Optimizer)) {
    throw new ArgumentError(
      `fit: option 'optimizer' must be an optimizer (new SGD(...), Adam, AdamW), got ${String(options.optimizer)}`,
    );
  }
  for (const name of ['schedule', 'onBatch', 'onEpoch'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new ArgumentError(`fit: option '${name}' must be a function, got ${String(options[name])}`);
    }
  }
  if (options.seed !== undefined) checkInteger('fit', 'seed', options.seed, 0);
  checkDataset('fit', 'data', data);
  if (data.classes.length < 2) {
    throw new ArgumentError(
      `fit: the training set has ${data.classes.length} class${data.classes.length === 1 ? ` (${data.classes[0]})` : 'es'}; a classifier needs at least two (with one, every prediction is right and the loss is 0)`,
    );
  }
  const validation = options.validation;
  if (validation !== undefined) {
    checkDataset('fit', 'validation', validation);
    if (
      validation.shape.some((d, i) => d !== data.shape[i]) ||
      validation.classes.length !== data.classes.length
    ) {
      throw new ArgumentError(
        `fit: the validation set has images of shape ${fmtShape(validation.shape)} and ${validation.classes.length} classes, the training set ${fmtShape(data.shape)} and ${data.classes.length}; they must match`,
      );
    }
  }
}

/** The schedule's learning rate for `step`, refused (naming the step) unless it is a finite number >= 0. */
export function scheduledRate(schedule: (step: number) => number, step: number): number {
  const lr = schedule(step);
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    throw new ArgumentError(
      `fit: schedule(${step}) returned ${String(lr)}; a learning rate must be a finite number >= 0`,
    );
  }
  return lr;
}
