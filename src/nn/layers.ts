// The basic layers: Conv2d, BatchNorm2d, Dense, ReLU, pooling, Flatten and Sequential.
import { ones, zeros } from '../graph/create.js';
import type { Tensor } from '../graph/tensor.js';
import { batchNorm } from '../ops/batchnorm.js';
import { conv2d } from '../ops/conv2d.js';
import type { Padding } from '../ops/conv_geometry.js';
import { dense } from '../ops/matmul.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../ops/pool.js';
import { relu } from '../ops/relu.js';
import { flatten } from '../ops/reshape.js';
import { ArgumentError } from '../errors.js';
import { checkOptionKeys } from '../options.js';
import { glorotUniform, heNormal } from './init.js';
import { Module } from './module.js';

/** ArgumentError unless each named size is a positive integer (a layer with 0 channels is always a mistake). */
function checkSizes(owner: string, sizes: Record<string, number>): void {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new ArgumentError(`${owner}: argument '${name}' must be a positive integer, got ${String(v)}`);
    }
  }
}

export interface Conv2dOptions {
  stride?: number;
  padding?: Padding;
  dilation?: number;
  /** Add a learned bias (default true; off before batch norm, which has its own shift). */
  bias?: boolean;
  seed?: number;
}

/** Shapes: x [N,H,W,inChannels] → [N,OH,OW,outChannels]; weight [k,k,in,out] (HWIO), bias [out]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    private readonly options: Conv2dOptions = {},
  ) {
    super();
    checkSizes('Conv2d', { inChannels, outChannels, kernel });
    checkOptionKeys('Conv2d', options, ['stride', 'padding', 'dilation', 'bias', 'seed']);
    const fanIn = kernel * kernel * inChannels;
    this.weight = this.param(
      'weight',
      heNormal([kernel, kernel, inChannels, outChannels], fanIn, options.seed ?? 0),
    );
    this.bias = options.bias === false ? null : this.param('bias', zeros([outChannels]));
  }

  forward(x: Tensor): Tensor {
    const { stride = 1, padding = 'same', dilation = 1 } = this.options;
    return conv2d(x, this.weight, { stride, padding, dilation, bias: this.bias ?? undefined });
  }
}

export interface BatchNormOptions {
  /**
   * Weight of the old running value in the moving average (Keras convention). Default 0.9 (PyTorch's 0.1
   * update) rather than Keras's 0.99, so the running statistics settle within the short runs this library
   * targets.
   */
  momentum?: number;
  epsilon?: number;
}

/**
 * Shapes: x [..., C] → same; normalizes over every axis but the last. Keras 3's convention throughout: training
 * normalizes with the biased batch variance and updates runningVar with that same biased variance (PyTorch's
 * BatchNorm2d, and the zoo's TorchBatchNorm2d, update it with the unbiased one; wg.batchNorm's
 * `runningVarCorrection`). Frozen (scale and shift not trained), it runs in inference mode whatever the model's
 * mode, as Keras does: running statistics, no update.
 */
export class BatchNorm2d extends Module {
  readonly gamma: Tensor;
  readonly beta: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(
    readonly channels: number,
    private readonly options: BatchNormOptions = {},
  ) {
    super();
    checkSizes('BatchNorm2d', { channels });
    checkOptionKeys('BatchNorm2d', options, ['momentum', 'epsilon']);
    this.gamma = this.param('gamma', ones([channels]));
    this.beta = this.param('beta', zeros([channels]));
    this.runningMean = this.buffer('runningMean', zeros([channels]));
    this.runningVar = this.buffer('runningVar', ones([channels]));
  }

  forward(x: Tensor): Tensor {
    return batchNorm(x, {
      gamma: this.gamma,
      beta: this.beta,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training && !this.frozen,
      momentum: this.options.momentum ?? 0.9,
      epsilon: this.options.epsilon,
    });
  }
}

/** Shapes: x [N,in] → [N,out]; weight [in,out], bias [out]. */
export class Dense extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean; seed?: number } = {},
  ) {
    super();
    checkSizes('Dense', { inFeatures, outFeatures });
    checkOptionKeys('Dense', options, ['bias', 'seed']);
    this.weight = this.param(
      'weight',
      glorotUniform([inFeatures, outFeatures], inFeatures, outFeatures, options.seed ?? 0),
    );
    this.bias = options.bias === false ? null : this.param('bias', zeros([outFeatures]));
  }

  forward(x: Tensor): Tensor {
    return dense(x, this.weight, this.bias ?? undefined);
  }
}

/** Shapes: any → same. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export interface PoolOptions {
  stride?: number;
  padding?: 'same' | 'valid';
}

/** Shapes: x [N,H,W,C] → [N,OH,OW,C]. */
export class MaxPool2d extends Module {
  constructor(
    readonly size: number,
    private readonly options: PoolOptions = {},
  ) {
    super();
    checkSizes('MaxPool2d', { size });
    checkOptionKeys('MaxPool2d', options, ['stride', 'padding']);
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, { size: this.size, ...this.options });
  }
}

/** Shapes: x [N,H,W,C] → [N,OH,OW,C]; 'same' divides by the in-bounds taps. */
export class AvgPool2d extends Module {
  constructor(
    readonly size: number,
    private readonly options: PoolOptions = {},
  ) {
    super();
    checkSizes('AvgPool2d', { size });
    checkOptionKeys('AvgPool2d', options, ['stride', 'padding']);
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, { size: this.size, ...this.options });
  }
}

/** Shapes: x [N,H,W,C] → [N,C]. */
export class GlobalAvgPool extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool(x);
  }
}

/** Shapes: x [N,...] → [N, product of the rest]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return flatten(x);
  }
}

/** Runs its layers in order; they are named 0, 1, 2, ... in the state dict. */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    layers.forEach((l, i) => {
      if (!(l instanceof Module)) {
        throw new ArgumentError(`Sequential: layer ${i} must be a Module, got ${String(l)}`);
      }
    });
    this.layers = layers.map((l, i) => this.child(String(i), l));
  }

  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, l) => l.forward(h), x);
  }
}
