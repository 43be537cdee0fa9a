// Layers built on the low-level ops: Dropout, ReLU6, DepthwiseConv2d, LayerNorm and GroupNorm (composed from the
// generated elementwise kernels and reductions, so their gradients are those ops').
import { ArgumentError } from '../errors.js';
import { ones, zeros } from '../graph/create.js';
import { onExplainEnd } from '../graph/explain_undo.js';
import type { Tensor } from '../graph/tensor.js';
import { conv2d } from '../ops/conv2d.js';
import type { Padding } from '../ops/conv_geometry.js';
import { dropout } from '../ops/dropout.js';
import { elementwise } from '../ops/elementwise/op.js';
import { call, input, num } from '../ops/elementwise/expr.js';
import { reshape } from '../ops/reshape.js';
import { relu6 } from '../ops/unary.js';
import { moments } from '../ops/statistics.js';
import { heNormal } from './init.js';
import { Module } from './module.js';

/** Shapes: x any → same. Drops with probability `rate` in training mode; the identity in eval mode. */
export class Dropout extends Module {
  private calls = 0;
  constructor(
    readonly rate: number,
    private readonly seed?: number,
  ) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new ArgumentError(`Dropout: 'rate' must be in [0, 1), got ${rate}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.rate === 0) return x;
    // A fixed seed still gives each call its own mask, reproducibly.
    const calls = this.calls;
    onExplainEnd(() => (this.calls = calls));
    const seed = this.seed === undefined ? undefined : (this.seed + this.calls++) >>> 0;
    return dropout(x, this.rate, seed === undefined ? {} : { seed });
  }
}

/** Shapes: any → same; min(max(x, 0), 6), MobileNet's activation. */
export class ReLU6 extends Module {
  forward(x: Tensor): Tensor {
    return relu6(x);
  }
}

export interface DepthwiseConv2dOptions {
  stride?: number;
  padding?: Padding;
  /** Output channels per input channel (default 1). */
  multiplier?: number;
  bias?: boolean;
  seed?: number;
}

/** Shapes: x [N,H,W,C] → [N,OH,OW,C*multiplier]; weight [K,K,1,C*multiplier] (conv2d with groups = C). */
export class DepthwiseConv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly channels: number,
    readonly kernel: number,
    private readonly options: DepthwiseConv2dOptions = {},
  ) {
    super();
    const out = channels * (options.multiplier ?? 1);
    this.weight = this.param(
      'weight',
      heNormal([kernel, kernel, 1, out], kernel * kernel, options.seed ?? 0),
    );
    this.bias = options.bias === false ? null : this.param('bias', zeros([out]));
  }

  forward(x: Tensor): Tensor {
    const { stride = 1, padding = 'same' } = this.options;
    return conv2d(x, this.weight, { stride, padding, groups: this.channels, bias: this.bias ?? undefined });
  }
}

/** (x - mean) / sqrt(var + eps) * gamma + beta as one generated kernel over broadcast inputs. */
function normalize(
  x: Tensor,
  mean: Tensor,
  variance: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
): Tensor {
  const tree = call(
    'add',
    call(
      'mul',
      call('mul', call('sub', input(0), input(1)), call('rsqrt', call('add', input(2), num(eps)))),
      input(3),
    ),
    input(4),
  );
  return elementwise(tree, [x, mean, variance, gamma, beta]);
}

/** Shapes: x [..., C] → same; normalizes over the last axis, then scales and shifts per channel. */
export class LayerNorm extends Module {
  readonly gamma: Tensor;
  readonly beta: Tensor;
  constructor(
    readonly channels: number,
    readonly epsilon = 1e-5,
  ) {
    super();
    this.gamma = this.param('weight', ones([channels]));
    this.beta = this.param('bias', zeros([channels]));
  }

  forward(x: Tensor): Tensor {
    const m = moments(x, { axis: -1, keepDims: true });
    return normalize(x, m.mean, m.variance, this.gamma, this.beta, this.epsilon);
  }
}

/** Shapes: x [N,H,W,C] → same; normalizes over (H, W, C/groups) per group, then scales and shifts per channel. */
export class GroupNorm extends Module {
  readonly gamma: Tensor;
  readonly beta: Tensor;
  constructor(
    readonly groups: number,
    readonly channels: number,
    readonly epsilon = 1e-5,
  ) {
    super();
    if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0)
      throw new ArgumentError(`GroupNorm: ${channels} channels do not split into ${groups} groups`);
    this.gamma = this.param('weight', ones([channels]));
    this.beta = this.param('bias', zeros([channels]));
  }

  forward(x: Tensor): Tensor {
    const [n, h, w, c] = x.shape;
    const g = this.groups;
    const grouped = reshape(x, [n, h, w, g, c / g]);
    const m = moments(grouped, { axis: [1, 2, 4], keepDims: true });
    const gamma = reshape(this.gamma, [g, c / g]);
    const beta = reshape(this.beta, [g, c / g]);
    return reshape(normalize(grouped, m.mean, m.variance, gamma, beta, this.epsilon), x.shape);
  }
}
