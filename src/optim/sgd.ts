// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay (PyTorch's SGD).
import type { Tensor } from '../graph/tensor.js';
import { maxGroupSize } from '../ops/optimizer_kernel.js';
import { recordGroupedUpdate } from '../ops/optimizer_update.js';
import { sgdMomentumUpdate, sgdUpdate } from '../ops/sgd_update.js';
import { ArgumentError } from '../errors.js';
import { checkOptionKeys, checkRange } from '../options.js';
import { Optimizer, type GroupOptions, type UpdateTarget } from './optimizer.js';

export interface SgdOptions extends GroupOptions {
  lr: number;
  /** Momentum factor (default 0: no momentum buffer). */
  momentum?: number;
  /** Nesterov momentum (default false; needs momentum > 0). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient: g = grad + weightDecay * p (default 0). */
  weightDecay?: number;
}

/**
 * PyTorch's torch.optim.SGD (dampening 0): g = grad + wd * p; with momentum v = momentum * v + g (v = g on the
 * first step) and update = nesterov ? g + momentum * v : v; p -= lr * update. State: `momentum_buffer`.
 * Shapes: every parameter any shape; each gets a momentum buffer of its shape when momentum > 0.
 */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(params: readonly Tensor[], options: SgdOptions) {
    checkOptionKeys('SGD', options, ['lr', 'momentum', 'nesterov', 'weightDecay', 'groupSize']);
    const momentum = options.momentum ?? 0;
    super('SGD', params, options.lr, momentum > 0 ? ['momentum_buffer'] : [], options.groupSize);
    checkRange('SGD', 'momentum', momentum, 0);
    checkRange('SGD', 'weightDecay', options.weightDecay ?? 0, 0);
    if (options.nesterov && momentum === 0) throw new ArgumentError('SGD: nesterov needs momentum > 0');
    this.momentum = momentum;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
  }

  protected groupLimit(limits: Readonly<Record<string, number>>): number {
    return maxGroupSize((this.momentum === 0 ? sgdUpdate : sgdMomentumUpdate).spec, limits);
  }

  protected update(group: readonly UpdateTarget[]): void {
    const attrs = { lr: this.lr, weightDecay: this.weightDecay };
    if (this.momentum === 0) {
      recordGroupedUpdate(
        sgdUpdate,
        group.map((t) => [t.p, t.grad]),
        attrs,
      );
      return;
    }
    recordGroupedUpdate(
      sgdMomentumUpdate,
      group.map((t) => [t.p, t.grad, t.buffers[0]]),
      { ...attrs, momentum: this.momentum, nesterov: this.nesterov, first: group.map((t) => t.step === 1) },
    );
  }
}
