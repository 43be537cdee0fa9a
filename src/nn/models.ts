// Model builders: small ResNet and Inception networks with a replaceable softmax head, rebuilt from a config.
import { ArgumentError } from '../errors.js';
import { checkOptionKeys } from '../options.js';
import type { Tensor } from '../graph/tensor.js';
import { globalAvgPool } from '../ops/pool.js';
import { ConvBN, InceptionBlock, ResidualBlock, type InceptionWidths } from './blocks.js';
import { Dense, MaxPool2d, Sequential } from './layers.js';
import { Module } from './module.js';

export interface ResNetConfig {
  kind: 'resnet';
  /** [H, W, C] of one image. */
  inputShape: [number, number, number];
  classes: number;
  /** Channels of each stage; every stage after the first halves H and W. */
  widths: number[];
  /** Residual blocks per stage. */
  blocks: number[];
  seed: number;
}

export interface InceptionConfig {
  kind: 'inception';
  inputShape: [number, number, number];
  classes: number;
  /** Channels of the 3x3 stem convolution. */
  stem: number;
  /** Inception modules per stage; a 3x3 stride-2 max pool comes before each stage. */
  stages: InceptionWidths[][];
  seed: number;
}

export type ModelConfig = ResNetConfig | InceptionConfig;

/**
 * A classifier: a convolutional trunk, global average pooling, and a dense softmax head.
 * Shapes: x [N,H,W,C] → logits [N,classes].
 */
export class Network extends Module {
  head: Dense;

  constructor(
    readonly config: ModelConfig,
    readonly trunk: Sequential,
    features: number,
  ) {
    super();
    this.child('trunk', trunk);
    this.head = this.child('head', new Dense(features, config.classes, { seed: config.seed + 1000 }));
  }

  /** The pooled trunk activations. Shapes: x [N,H,W,C] → [N,features]. */
  features(x: Tensor): Tensor {
    return globalAvgPool(this.trunk.forward(x));
  }

  forward(x: Tensor): Tensor {
    return this.head.forward(this.features(x));
  }

  /** Transfer learning: a new, freshly initialized head for `classes` classes (the old one is disposed). */
  replaceHead(classes: number, seed = this.config.seed + 2000): Dense {
    if (!isPositiveInt(classes)) {
      throw new ArgumentError(
        `replaceHead: argument 'classes' must be a positive integer, got ${String(classes)}`,
      );
    }
    if (!Number.isInteger(seed)) {
      throw new ArgumentError(`replaceHead: argument 'seed' must be an integer, got ${String(seed)}`);
    }
    const features = this.head.inFeatures;
    this.head.dispose();
    this.head = this.child('head', new Dense(features, classes, { seed }));
    (this as { config: ModelConfig }).config = { ...this.config, classes };
    return this.head;
  }
}

const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/** ArgumentError unless `value` is a non-empty array of positive integers (of `length` entries when given). */
function checkPositiveInts(owner: string, name: string, value: unknown, length?: number): void {
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    (length === undefined || value.length === length) &&
    value.every(isPositiveInt);
  if (!ok) {
    const what = length === undefined ? 'a non-empty array of' : `an array of ${length}`;
    throw new ArgumentError(
      `${owner}: option '${name}' must be ${what} positive integers, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
}

/** The options every builder shares: known keys only (a typo is never ignored), shape, classes and seed. */
function checkConfig(c: ModelConfig, options: object, known: readonly string[]): void {
  checkOptionKeys(c.kind, options, known);
  checkPositiveInts(c.kind, 'inputShape', c.inputShape, 3);
  if (!isPositiveInt(c.classes)) {
    throw new ArgumentError(
      `${c.kind}: option 'classes' must be a positive integer, got ${String(c.classes)}`,
    );
  }
  if (!Number.isInteger(c.seed)) {
    throw new ArgumentError(`${c.kind}: option 'seed' must be an integer, got ${String(c.seed)}`);
  }
}

export const RESNET_DEFAULTS: ResNetConfig = {
  kind: 'resnet',
  inputShape: [28, 28, 1],
  classes: 10,
  widths: [8, 16, 32],
  blocks: [1, 1, 1],
  seed: 0,
};

/** A ResNet: 3x3 conv-BN-ReLU stem, stages of residual blocks (projection shortcuts where shapes change). */
export function resnet(options: Partial<Omit<ResNetConfig, 'kind'>> = {}): Network {
  const c: ResNetConfig = { ...RESNET_DEFAULTS, ...options, kind: 'resnet' };
  checkConfig(c, options, ['inputShape', 'classes', 'widths', 'blocks', 'seed']);
  checkPositiveInts('resnet', 'widths', c.widths);
  checkPositiveInts('resnet', 'blocks', c.blocks);
  if (c.widths.length !== c.blocks.length) {
    throw new ArgumentError(
      `resnet: options 'widths' and 'blocks' must have the same length (one entry per stage), got ${c.widths.length} and ${c.blocks.length}`,
    );
  }
  let seed = c.seed * 10_000;
  const layers: Module[] = [new ConvBN(c.inputShape[2], c.widths[0], 3, { seed: seed++ })];
  let channels = c.widths[0];
  c.widths.forEach((width, stage) => {
    for (let b = 0; b < c.blocks[stage]; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      layers.push(new ResidualBlock(channels, width, { stride, seed: (seed += 3) }));
      channels = width;
    }
  });
  return new Network(c, new Sequential(...layers), channels);
}

export const INCEPTION_DEFAULTS: InceptionConfig = {
  kind: 'inception',
  inputShape: [28, 28, 1],
  classes: 10,
  stem: 32,
  stages: [
    [{ b1: 16, b3Reduce: 16, b3: 24, b5Reduce: 4, b5: 8, poolProj: 8 }],
    [{ b1: 32, b3Reduce: 24, b3: 48, b5Reduce: 8, b5: 16, poolProj: 16 }],
  ],
  seed: 0,
};

const INCEPTION_WIDTHS = ['b1', 'b3Reduce', 'b3', 'b5Reduce', 'b5', 'poolProj'] as const;

function checkInceptionStages(c: InceptionConfig): void {
  if (!isPositiveInt(c.stem)) {
    throw new ArgumentError(`inception: option 'stem' must be a positive integer, got ${String(c.stem)}`);
  }
  const stagesOk = Array.isArray(c.stages) && c.stages.every((s) => Array.isArray(s) && s.length > 0);
  if (!stagesOk || c.stages.length === 0) {
    throw new ArgumentError(
      `inception: option 'stages' must be a non-empty array of non-empty arrays of module widths, got ${JSON.stringify(c.stages) ?? String(c.stages)}`,
    );
  }
  c.stages.forEach((stage, i) =>
    stage.forEach((widths, j) => {
      const name = `stages[${i}][${j}]`;
      checkOptionKeys(`inception: option '${name}'`, widths, INCEPTION_WIDTHS);
      for (const key of INCEPTION_WIDTHS) {
        if (!isPositiveInt(widths[key])) {
          throw new ArgumentError(
            `inception: option '${name}.${key}' must be a positive integer, got ${String(widths[key])}`,
          );
        }
      }
    }),
  );
}

/** An Inception network: 3x3 stem, then per stage a 3x3 stride-2 max pool and Inception modules. */
export function inception(options: Partial<Omit<InceptionConfig, 'kind'>> = {}): Network {
  const c: InceptionConfig = { ...INCEPTION_DEFAULTS, ...options, kind: 'inception' };
  checkConfig(c, options, ['inputShape', 'classes', 'stem', 'stages', 'seed']);
  checkInceptionStages(c);
  let seed = c.seed * 10_000;
  const layers: Module[] = [new ConvBN(c.inputShape[2], c.stem, 3, { seed: seed++ })];
  let channels = c.stem;
  for (const stage of c.stages) {
    layers.push(new MaxPool2d(3, { stride: 2, padding: 'same' }));
    for (const widths of stage) {
      const block = new InceptionBlock(channels, widths, { seed: (seed += 6) });
      layers.push(block);
      channels = block.outChannels;
    }
  }
  return new Network(c, new Sequential(...layers), channels);
}

/** Rebuilds a network from the config stored in a checkpoint. */
export function buildModel(config: ModelConfig): Network {
  // The builders refuse unknown keys; `kind` is the config's own.
  const { kind, ...options } = config;
  if (kind === 'resnet') return resnet(options as Omit<ResNetConfig, 'kind'>);
  if (kind === 'inception') return inception(options as Omit<InceptionConfig, 'kind'>);
  throw new ArgumentError(`buildModel: unknown model kind '${(config as { kind: string }).kind}'`);
}
