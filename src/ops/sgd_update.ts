// In-place SGD updates (plain, and with momentum / Nesterov) of a group of parameters: the formula, once.
import { refSgdStep, type SgdStepAttrs } from '../reference/optim.js';
import {
  checkFinite,
  checkPerParameter,
  groupedUpdateOp,
  paramBuffers,
  type OptimizerUpdate,
} from './optimizer_update.js';

export type SgdUpdateAttrs = SgdStepAttrs;

export interface SgdMomentumUpdateAttrs extends SgdStepAttrs {
  momentum: number;
  nesterov: boolean;
  /** Per parameter: its first step, when its momentum buffer starts as the gradient (old contents ignored). */
  first: readonly boolean[];
}

/**
 * Plain SGD (torch.optim.SGD, momentum 0): g = grad + wd * p; p = p - lr * g.
 * Per parameter: p (read_write), grad (read).
 */
export const sgdUpdate: OptimizerUpdate<SgdUpdateAttrs> = {
  name: 'sgdUpdate',
  spec: {
    op: 'sgdUpdate',
    buffers: paramBuffers(),
    shared: [
      { name: 'lr', type: 'f32' },
      { name: 'wd', type: 'f32' },
    ],
    own: [],
    formula: ({ buf, shared }) => `
      let w = ${buf('p')}[i];
      let g = ${buf('grad')}[i] + ${shared('wd')} * w;
      ${buf('p')}[i] = w - ${shared('lr')} * g;`,
  },
  uniformAttrs: ['lr', 'weightDecay'],
  checkAttrs: (a) => checkFinite('sgdUpdate', { lr: a.lr, weightDecay: a.weightDecay }),
  shared: (a) => ({ lr: a.lr, wd: a.weightDecay }),
  own: () => ({}),
  reference: ([p, grad], a) => refSgdStep(p, grad, null, a),
  flopsPerElement: 4,
  bytesPerElement: 12,
};

/**
 * SGD with momentum, optionally Nesterov (torch.optim.SGD, dampening 0): g = grad + wd * p;
 * v = g on the parameter's first step (first = 1), else v = momentum * v + g; update = g + momentum * v if
 * nesterov = 1, else v; p = p - lr * update. Per parameter: p (read_write), grad (read), v (read_write).
 */
export const sgdMomentumUpdate: OptimizerUpdate<SgdMomentumUpdateAttrs> = {
  name: 'sgdMomentumUpdate',
  spec: {
    op: 'sgdMomentumUpdate',
    buffers: paramBuffers('v'),
    shared: [
      { name: 'lr', type: 'f32' },
      { name: 'wd', type: 'f32' },
      { name: 'momentum', type: 'f32' },
      { name: 'nesterov', type: 'u32' },
    ],
    own: [{ name: 'first', type: 'u32' }],
    formula: ({ buf, shared, own }) => `
      let w = ${buf('p')}[i];
      let g = ${buf('grad')}[i] + ${shared('wd')} * w;
      var velocity = g;
      if (${own('first')} == 0u) {
        velocity = ${shared('momentum')} * ${buf('v')}[i] + g;
      }
      ${buf('v')}[i] = velocity;
      var update = velocity;
      if (${shared('nesterov')} == 1u) {
        update = g + ${shared('momentum')} * velocity;
      }
      ${buf('p')}[i] = w - ${shared('lr')} * update;`,
  },
  uniformAttrs: ['lr', 'weightDecay', 'momentum', 'nesterov', 'first'],
  checkAttrs(a, k) {
    checkFinite('sgdMomentumUpdate', { lr: a.lr, weightDecay: a.weightDecay, momentum: a.momentum });
    checkPerParameter('sgdMomentumUpdate', 'first', a.first, k);
  },
  shared: (a) => ({ lr: a.lr, wd: a.weightDecay, momentum: a.momentum, nesterov: a.nesterov ? 1 : 0 }),
  own: (a, s) => ({ first: a.first[s] ? 1 : 0 }),
  reference: ([p, grad, v], a, s) => refSgdStep(p, grad, v, { ...a, first: a.first[s] }),
  flopsPerElement: 7,
  bytesPerElement: 20,
};

/** The single-parameter definitions, for the op table (optimizers record groups of the same definitions). */
export const sgdUpdateOp = groupedUpdateOp(sgdUpdate, 1);
export const sgdMomentumUpdateOp = groupedUpdateOp(sgdMomentumUpdate, 1);
