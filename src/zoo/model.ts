// The zoo's model base: named stages in order (for freezing and caching by depth), pooled features, maybe a
// dropout, an `fc` head.
import { ArgumentError } from '../errors.js';
import { checkOptionKeys } from '../options.js';
import type { Tensor } from '../graph/tensor.js';
import { Dense } from '../nn/layers.js';
import { Dropout } from '../nn/layers_extra.js';
import { Module } from '../nn/module.js';
import { globalAvgPool } from '../ops/pool.js';

/** The torchvision architectures the zoo builds. */
export const ZOO_ARCHS = ['resnet18', 'resnet34', 'resnet50', 'googlenet'] as const;
export type ZooArch = (typeof ZOO_ARCHS)[number];

/** torchvision's GoogLeNet(dropout=0.2): the rate of the dropout before its fc. */
export const GOOGLENET_DROPOUT = 0.2;

/** Everything needed to rebuild a zoo model (stored in checkpoints). */
export interface ZooConfig {
  kind: 'zoo';
  arch: ZooArch;
  classes: number;
  /** [H, W, C] of one image; C is 3 for torchvision's weights. */
  inputShape: [number, number, number];
  seed: number;
  /** GoogLeNet only: the rate of its dropout before fc (absent for the ResNets, which have none). */
  dropout?: number;
}

/** One step of the trunk under its torchvision name (`layer3`, `inception4e`, `maxpool2`). */
export interface Stage {
  name: string;
  /** State-dict prefixes of the modules this stage runs (`['conv1', 'bn1']`; none for a pool). */
  prefixes: string[];
  run: (x: Tensor) => Tensor;
}

/**
 * A torchvision classifier: trunk stages, global average pooling (`avgpool`), torchvision's `dropout` where the
 * architecture has one (GoogLeNet), then the linear head `fc`.
 * Shapes: x [N,H,W,C] → logits [N,classes].
 */
export abstract class ZooModel extends Module {
  fc: Dense;
  /** The dropout between `avgpool` and `fc` (training mode only), or null where torchvision has none. */
  private headDropout: Dropout | null = null;

  protected constructor(
    readonly config: ZooConfig,
    private readonly featureCount: number,
  ) {
    super();
    this.fc = new Dense(featureCount, config.classes, { seed: config.seed * 10_000 + 9_999 });
  }

  /**
   * Registers the head last, after the subclass's trunk, so state-dict order follows torchvision's; with
   * `dropoutRate`, a seeded `dropout` stage (nn.Dropout: identity in eval mode, a fresh mask per training
   * forward) ahead of it.
   */
  protected addHead(dropoutRate?: number): void {
    if (dropoutRate !== undefined) {
      this.headDropout = this.child('dropout', new Dropout(dropoutRate, this.config.seed * 10_000 + 7_777));
    }
    this.child('fc', this.fc);
  }

  /** The trunk's stages in forward order, ending with `avgpool` (output [N, features]). */
  abstract trunkStages(): Stage[];

  /** Number of pooled features the head reads. */
  get features(): number {
    return this.featureCount;
  }

  /** Every stage in order, the head (`fc`) last; pooled features pass `dropout` first where there is one. */
  stages(): Stage[] {
    const dropout = this.headDropout;
    return [
      ...this.trunkStages(),
      { name: 'avgpool', prefixes: [], run: (x) => globalAvgPool(x) },
      ...(dropout ? [{ name: 'dropout', prefixes: [], run: (x: Tensor) => dropout.forward(x) }] : []),
      { name: 'fc', prefixes: ['fc'], run: (x) => this.fc.forward(x) },
    ];
  }

  /**
   * Runs stages `from` (exclusive; null = the image) to `to` (inclusive; null = the head).
   * Shapes: x the output of stage `from` → the output of stage `to`.
   */
  forwardRange(x: Tensor, from: string | null, to: string | null): Tensor {
    const stages = this.stages();
    const start = from === null ? 0 : this.stageIndex(from) + 1;
    const end = to === null ? stages.length - 1 : this.stageIndex(to);
    let h = x;
    for (let i = start; i <= end; i++) h = stages[i].run(h);
    return h;
  }

  /** Index of a stage by name; ArgumentError listing the names otherwise. */
  stageIndex(name: string): number {
    const i = this.stages().findIndex((s) => s.name === name);
    if (i < 0) {
      throw new ArgumentError(
        `${this.config.arch}: no stage '${name}' (expected one of ${this.stages()
          .map((s) => s.name)
          .join(', ')})`,
      );
    }
    return i;
  }

  forward(x: Tensor): Tensor {
    return this.forwardRange(x, null, null);
  }

  /** Transfer learning: a fresh `fc` for `classes` classes (the old one is disposed). */
  replaceHead(classes: number, seed = this.config.seed * 10_000 + 8_888): Dense {
    if (!Number.isInteger(classes) || classes < 1) {
      throw new ArgumentError(`replaceHead: argument 'classes' must be a positive integer, got ${classes}`);
    }
    this.fc.dispose();
    this.fc = this.child('fc', new Dense(this.featureCount, classes, { seed }));
    (this as { config: ZooConfig }).config = { ...this.config, classes };
    return this.fc;
  }
}

/** Options every zoo builder takes. */
export interface ZooOptions {
  classes: number;
  /** [H, W, C] of one image (default [224, 224, 3], torchvision's). */
  inputShape?: [number, number, number];
  /** Initializer seed (default 0). */
  seed?: number;
  /**
   * GoogLeNet only (torchvision's `dropout` argument): the rate of the dropout before fc, in [0, 1); default
   * 0.2, 0 for none. An unknown option for the ResNets.
   */
  dropout?: number;
}

/** Checks builder options and fills defaults. */
export function zooConfig(arch: ZooArch, options: ZooOptions): ZooConfig {
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError(`${arch}: argument 'options' must be { classes, inputShape?, seed? }`);
  }
  const hasDropout = arch === 'googlenet';
  checkOptionKeys(arch, options, ['classes', 'inputShape', 'seed', ...(hasDropout ? ['dropout'] : [])]);
  const { classes, inputShape = [224, 224, 3], seed = 0, dropout = GOOGLENET_DROPOUT } = options;
  if (!Number.isInteger(classes) || classes < 1) {
    throw new ArgumentError(`${arch}: argument 'classes' must be a positive integer, got ${String(classes)}`);
  }
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d >= 1)
  ) {
    throw new ArgumentError(
      `${arch}: argument 'inputShape' must be [H, W, C] of positive integers, got ${JSON.stringify(inputShape)}`,
    );
  }
  if (!Number.isInteger(seed)) throw new ArgumentError(`${arch}: argument 'seed' must be an integer`);
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new ArgumentError(`${arch}: argument 'dropout' must be a rate in [0, 1), got ${String(dropout)}`);
  }
  return {
    kind: 'zoo',
    arch,
    classes,
    inputShape: [...inputShape],
    seed,
    ...(hasDropout ? { dropout } : {}),
  };
}
