// Adam and AdamW (decoupled weight decay), following PyTorch's torch.optim.Adam / AdamW without amsgrad.
import type { Tensor } from '../graph/tensor.js';
import { adamUpdate } from '../ops/adam_update.js';
import { maxGroupSize } from '../ops/optimizer_kernel.js';
import { recordGroupedUpdate } from '../ops/optimizer_update.js';
import { checkOptionKeys, checkRange } from '../options.js';
import { Optimizer, type GroupOptions, type UpdateTarget } from './optimizer.js';

export interface AdamOptions extends GroupOptions {
  lr: number;
  /** Decay of the first-moment average (default 0.9). */
  beta1?: number;
  /** Decay of the second-moment average (default 0.999). */
  beta2?: number;
  /** Added to the denominator for stability (default 1e-8). */
  epsilon?: number;
  /** Weight decay: L2 added to the gradient, or with `decoupled` p *= 1 - lr * weightDecay (default 0). */
  weightDecay?: number;
  /** Decoupled weight decay, i.e. AdamW (default false). */
  decoupled?: boolean;
}

const KNOWN = ['lr', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'decoupled', 'groupSize'];

/**
 * Adam with bias correction (formula in src/ops/adam_update.ts). State: `exp_avg` (m) and `exp_avg_sq` (v)
 * per parameter, plus its step count. Shapes: every parameter any shape; m and v take its shape.
 */
export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;

  constructor(params: readonly Tensor[], options: AdamOptions, owner = 'Adam') {
    checkOptionKeys(owner, options, KNOWN);
    super(owner, params, options.lr, ['exp_avg', 'exp_avg_sq'], options.groupSize);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.decoupled = options.decoupled ?? false;
    checkRange(owner, 'beta1', this.beta1, 0, 1, true);
    checkRange(owner, 'beta2', this.beta2, 0, 1, true);
    checkRange(owner, 'epsilon', this.epsilon, 0);
    checkRange(owner, 'weightDecay', this.weightDecay, 0);
  }

  protected groupLimit(limits: Readonly<Record<string, number>>): number {
    return maxGroupSize(adamUpdate.spec, limits);
  }

  protected update(group: readonly UpdateTarget[]): void {
    recordGroupedUpdate(
      adamUpdate,
      group.map((t) => [t.p, t.grad, ...t.buffers]),
      {
        lr: this.lr,
        beta1: this.beta1,
        beta2: this.beta2,
        epsilon: this.epsilon,
        weightDecay: this.weightDecay,
        decoupled: this.decoupled,
        steps: group.map((t) => t.step),
      },
    );
  }
}

/**
 * AdamW: Adam with decoupled weight decay, p *= 1 - lr * weightDecay before the Adam update. Like PyTorch,
 * weightDecay defaults to 0.01. Shapes: as Adam.
 */
export class AdamW extends Adam {
  constructor(params: readonly Tensor[], options: Omit<AdamOptions, 'decoupled'>) {
    checkOptionKeys(
      'AdamW',
      options,
      KNOWN.filter((k) => k !== 'decoupled'),
    );
    super(params, { weightDecay: 0.01, ...options, decoupled: true }, 'AdamW');
  }
}
