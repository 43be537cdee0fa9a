// Transfer learning by depth: a model as named stages, freezing all but the last N, and the head after a cut point.
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../graph/tensor.js';
import { Network } from '../nn/models.js';
import { Module } from '../nn/module.js';
import { globalAvgPool } from '../ops/pool.js';
import { flatten } from '../ops/reshape.js';
import { ZooModel, type Stage } from '../zoo/model.js';

/** A classifier transfer learning works on: a zoo model or one of webgrad's own networks. */
export type TransferModel = ZooModel | Network;

/**
 * The model's stages in forward order, the head last. Zoo models name them as torchvision does (`layer4`,
 * `avgpool`, `fc`); a webgrad Network's are `trunk.0`, `trunk.1`, ..., `pool`, `head`.
 */
export function stagesOf(model: TransferModel): Stage[] {
  if (model instanceof ZooModel) return model.stages();
  if (model instanceof Network) {
    return [
      ...model.trunk.layers.map((l, i) => ({
        name: `trunk.${i}`,
        prefixes: [`trunk.${i}`],
        run: (x: Tensor) => l.forward(x),
      })),
      { name: 'pool', prefixes: [], run: (x: Tensor) => globalAvgPool(x) },
      { name: 'head', prefixes: ['head'], run: (x: Tensor) => model.head.forward(x) },
    ];
  }
  throw new ArgumentError(`transfer: expected a zoo model or a webgrad Network, got ${String(model)}`);
}

/** Index of stage `name`; ArgumentError listing the stages otherwise. */
export function stageIndex(stages: readonly Stage[], name: string, op: string): number {
  const i = stages.findIndex((s) => s.name === name);
  if (i < 0) {
    throw new ArgumentError(
      `${op}: argument 'upTo' names no stage '${name}' (expected one of ${stages.map((s) => s.name).join(', ')})`,
    );
  }
  return i;
}

/** The pooling stage: everything up to it is the trunk in the default transfer split. */
export function poolStage(model: TransferModel): string {
  return model instanceof ZooModel ? 'avgpool' : 'pool';
}

/**
 * Freezes everything but the head and the last `trainLast` trunk stages that have parameters, and returns the
 * cut point: the last frozen stage (`upTo` for cacheFeatures). trainLast 0 trains only the head.
 */
export function freezeTrunk(model: TransferModel, { trainLast = 0 }: { trainLast?: number } = {}): string {
  const stages = stagesOf(model);
  const withParams = stages.slice(0, -1).filter((s) => s.prefixes.length > 0);
  if (!Number.isInteger(trainLast) || trainLast < 0 || trainLast > withParams.length) {
    throw new ArgumentError(
      `freezeTrunk: argument 'trainLast' must be an integer in [0, ${withParams.length}], got ${trainLast}`,
    );
  }
  const trained = trainLast > 0 ? withParams.slice(-trainLast) : [];
  model.unfreeze();
  model.freeze({ except: [...trained.flatMap((s) => s.prefixes), ...stages[stages.length - 1].prefixes] });
  if (trained.length === 0) return poolStage(model);
  return stages[stages.indexOf(trained[0]) - 1].name;
}

/**
 * The part of `model` after stage `upTo`, as a module over cached features: its parameters are the model's own
 * tensors, so training it trains the full model (the head is merged back as it trains). Switching its mode
 * switches the model's. Shapes: x [N, ...features of upTo] (pooled features come as [N,1,1,F]) → [N,classes].
 */
export class FeatureHead extends Module {
  private readonly stages: Stage[];
  private readonly pooled: boolean;
  private readonly prefixes: string[];

  constructor(
    readonly model: TransferModel,
    readonly upTo: string,
  ) {
    super();
    const all = stagesOf(model);
    const cut = stageIndex(all, upTo, 'FeatureHead');
    this.stages = all.slice(cut + 1);
    this.pooled = cut >= stageIndex(all, poolStage(model), 'FeatureHead');
    this.prefixes = this.stages.flatMap((s) => s.prefixes);
  }

  private owns(name: string): boolean {
    return this.prefixes.some((p) => name.startsWith(`${p}.`));
  }

  forward(x: Tensor): Tensor {
    return this.stages.reduce((h, s) => s.run(h), this.pooled ? flatten(x) : x);
  }

  override namedParameters(): [string, Tensor][] {
    return this.model.namedParameters().filter(([n]) => this.owns(n));
  }

  override stateDict(): Record<string, Tensor> {
    return Object.fromEntries(Object.entries(this.model.stateDict()).filter(([n]) => this.owns(n)));
  }

  override train(on = true): this {
    this.model.train(on);
    return super.train(on);
  }

  /** The tensors belong to the model: disposing the head would break it, so this is refused. */
  override dispose(): void {
    throw new ArgumentError(
      "FeatureHead.dispose: the head shares the model's tensors; dispose the model instead",
    );
  }
}
