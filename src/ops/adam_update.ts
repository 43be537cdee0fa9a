// In-place Adam / AdamW update: one kernel per parameter updates p and both moment buffers, no outputs.
import { ArgumentError } from '../errors.js';
import { record } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { checkUpdate, updateDispatch } from './sgd_update.js';
import { sizeOf, type OpDef } from './types.js';

export interface AdamUpdateAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** AdamW: decay the weights directly (p *= 1 - lr * wd) instead of adding wd * p to the gradient. */
  decoupled: boolean;
  /** The parameter's step count including this step (1 on its first step): sets the bias corrections. */
  step: number;
}

/** The per-step scalars of the update, in float64 as PyTorch computes them on the host. */
function scalars(a: AdamUpdateAttrs) {
  return {
    decay: a.decoupled ? 1 - a.lr * a.weightDecay : 1,
    wdCoupled: a.decoupled ? 0 : a.weightDecay,
    stepSize: a.lr / (1 - a.beta1 ** a.step),
    bc2Sqrt: Math.sqrt(1 - a.beta2 ** a.step),
  };
}

export const adamUpdateOp: OpDef<AdamUpdateAttrs> = {
  name: 'adamUpdate',
  check(inputs, a) {
    const { lr, beta1, beta2, epsilon, weightDecay } = a;
    if (!Number.isInteger(a.step) || a.step < 1) {
      throw new ArgumentError(`adamUpdate: 'step' must be an integer >= 1, got ${a.step}`);
    }
    return checkUpdate('adamUpdate', ['p', 'grad', 'm', 'v'], inputs, {
      lr,
      beta1,
      beta2,
      epsilon,
      weightDecay,
    });
  },
  forward(io, a) {
    const n = sizeOf(io.inputs[0].spec.shape);
    const s = scalars(a);
    const uniforms = [
      n,
      { f32: s.decay },
      { f32: s.wdCoupled },
      { f32: a.beta1 },
      { f32: a.beta2 },
      { f32: 1 - a.beta1 },
      { f32: 1 - a.beta2 },
      { f32: a.epsilon },
      { f32: s.stepSize },
      { f32: s.bc2Sqrt },
    ];
    return updateDispatch(
      'adam_update',
      n,
      uniforms,
      io.inputs.map((t) => t.buffer),
    );
  },
  writesInputs: [0, 2, 3],
  backward: null,
  cost: ([p]) => ({ flops: 14 * sizeOf(p.shape), bytes: 28 * sizeOf(p.shape) }),
  reference([p, grad, m, v], a) {
    const s = scalars(a);
    const n = p.data.length;
    const pOut = new Float64Array(n);
    const mOut = new Float64Array(n);
    const vOut = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const w = s.decay * p.data[i];
      const g = grad.data[i] + s.wdCoupled * w;
      mOut[i] = a.beta1 * m.data[i] + (1 - a.beta1) * g;
      vOut[i] = a.beta2 * v.data[i] + (1 - a.beta2) * g * g;
      pOut[i] = w - (s.stepSize * mOut[i]) / (Math.sqrt(vOut[i]) / s.bc2Sqrt + a.epsilon);
    }
    return [
      { shape: p.shape, data: pOut },
      { shape: m.shape, data: mOut },
      { shape: v.shape, data: vOut },
    ];
  },
};

/**
 * Records one Adam (or AdamW with `decoupled`) step in place on p and its moment buffers m and v
 * (formula in adam_update.wgsl). Shapes: p, grad, m, v same shape. p, m and v must be leaves.
 */
export function adamUpdate(p: Tensor, grad: Tensor, m: Tensor, v: Tensor, attrs: AdamUpdateAttrs): void {
  record(adamUpdateOp, [p, grad, m, v], attrs, ['p', 'grad', 'm', 'v']);
}
