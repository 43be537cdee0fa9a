// In-place Adam / AdamW update of a group of parameters and their moment buffers: the formula, once.
import { adamScalars, refAdamStep, type AdamStepAttrs } from '../reference/optim.js';
import { ArgumentError } from '../errors.js';
import {
  checkFinite,
  checkPerParameter,
  groupedUpdateOp,
  paramBuffers,
  type OptimizerUpdate,
} from './optimizer_update.js';

export interface AdamUpdateAttrs extends AdamStepAttrs {
  /** Per parameter: its step count including this step (1 on its first step), which sets its bias corrections. */
  steps: readonly number[];
}

/**
 * Adam / AdamW (torch.optim.Adam and AdamW, amsgrad false), per parameter with its step count t (scalars computed
 * on the host in float64, `adamScalars`):
 *   p = decay * p                     (decay = 1 - lr * wd for AdamW, 1 for Adam)
 *   g = grad + wdCoupled * p          (wdCoupled = wd for Adam, 0 for AdamW)
 *   m = beta1 * m + c1 * g            (c1 = 1 - beta1, c2 = 1 - beta2: from the host, since
 *   v = beta2 * v + c2 * g * g         1 - beta2 in f32 loses 1e-5 relative to cancellation)
 *   p = p - stepSize * m / (sqrt(v) / bc2Sqrt + eps),  stepSize = lr / (1 - beta1^t), bc2Sqrt = sqrt(1 - beta2^t).
 * Per parameter: p (read_write), grad (read), m and v (read_write moment buffers); stepSize and bc2Sqrt its own.
 */
export const adamUpdate: OptimizerUpdate<AdamUpdateAttrs> = {
  name: 'adamUpdate',
  spec: {
    op: 'adamUpdate',
    buffers: paramBuffers('m', 'v'),
    shared: ['decay', 'wdCoupled', 'beta1', 'beta2', 'c1', 'c2', 'eps'].map((name) => ({
      name,
      type: 'f32' as const,
    })),
    own: [
      { name: 'stepSize', type: 'f32' },
      { name: 'bc2Sqrt', type: 'f32' },
    ],
    formula: ({ buf, shared, own }) => `
      let w = ${shared('decay')} * ${buf('p')}[i];
      let g = ${buf('grad')}[i] + ${shared('wdCoupled')} * w;
      let m1 = ${shared('beta1')} * ${buf('m')}[i] + ${shared('c1')} * g;
      let v1 = ${shared('beta2')} * ${buf('v')}[i] + ${shared('c2')} * g * g;
      ${buf('m')}[i] = m1;
      ${buf('v')}[i] = v1;
      ${buf('p')}[i] = w - ${own('stepSize')} * m1 / (sqrt(v1) / ${own('bc2Sqrt')} + ${shared('eps')});`,
  },
  uniformAttrs: ['lr', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'decoupled', 'steps'],
  checkAttrs(a, k) {
    const { lr, beta1, beta2, epsilon, weightDecay } = a;
    checkFinite('adamUpdate', { lr, beta1, beta2, epsilon, weightDecay });
    checkPerParameter('adamUpdate', 'steps', a.steps, k);
    for (const step of a.steps) {
      if (!Number.isInteger(step) || step < 1) {
        throw new ArgumentError(`adamUpdate: every step must be an integer >= 1, got ${step}`);
      }
    }
  },
  shared(a) {
    const s = adamScalars(a, 1);
    const { beta1, beta2, epsilon: eps } = a;
    return { decay: s.decay, wdCoupled: s.wdCoupled, beta1, beta2, c1: 1 - beta1, c2: 1 - beta2, eps };
  },
  own(a, slot) {
    const s = adamScalars(a, a.steps[slot]);
    return { stepSize: s.stepSize, bc2Sqrt: s.bc2Sqrt };
  },
  reference: ([p, grad, m, v], a, slot) => refAdamStep(p, grad, m, v, a, a.steps[slot]),
  flopsPerElement: 14,
  bytesPerElement: 28,
};

/** The single-parameter definition, for the op table (optimizers record groups of the same definition). */
export const adamUpdateOp = groupedUpdateOp(adamUpdate, 1);
