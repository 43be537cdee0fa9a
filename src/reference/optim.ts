// Float64 CPU reference of one optimizer step on one parameter: SGD (momentum, Nesterov, weight decay), Adam/AdamW.
import type { RefTensor } from '../ops/types.js';

export interface SgdStepAttrs {
  lr: number;
  weightDecay: number;
}

export interface SgdMomentumStepAttrs extends SgdStepAttrs {
  momentum: number;
  nesterov: boolean;
  /** The parameter's first step: the momentum buffer starts as the gradient (its old contents are ignored). */
  first: boolean;
}

/**
 * torch.optim.SGD (dampening 0): g = grad + wd * p; with a momentum buffer v = first ? g : momentum * v + g and
 * update = nesterov ? g + momentum * v : v; p -= lr * update. Returns [p] without v, else [p, v].
 * Shapes: p, grad (and v) same shape.
 */
export function refSgdStep(
  p: RefTensor,
  grad: RefTensor,
  v: RefTensor | null,
  a: SgdStepAttrs & Partial<SgdMomentumStepAttrs>,
): RefTensor[] {
  const n = p.data.length;
  const pOut = new Float64Array(n);
  const vOut = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = grad.data[i] + a.weightDecay * p.data[i];
    let update = g;
    if (v) {
      vOut[i] = a.first ? g : a.momentum! * v.data[i] + g;
      update = a.nesterov ? g + a.momentum! * vOut[i] : vOut[i];
    }
    pOut[i] = p.data[i] - a.lr * update;
  }
  const out = [{ shape: p.shape, data: pOut }];
  if (v) out.push({ shape: v.shape, data: vOut });
  return out;
}

export interface AdamStepAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** AdamW: decay the weights directly (p *= 1 - lr * wd) instead of adding wd * p to the gradient. */
  decoupled: boolean;
}

/**
 * The per-step scalars of an Adam update of a parameter at its step `step` (1 on its first), in float64 as
 * PyTorch computes them on the host: the kernel receives exactly these, rounded to f32.
 */
export function adamScalars(a: AdamStepAttrs, step: number) {
  return {
    decay: a.decoupled ? 1 - a.lr * a.weightDecay : 1,
    wdCoupled: a.decoupled ? 0 : a.weightDecay,
    stepSize: a.lr / (1 - a.beta1 ** step),
    bc2Sqrt: Math.sqrt(1 - a.beta2 ** step),
  };
}

/**
 * torch.optim.Adam / AdamW (amsgrad false) at the parameter's step `step`: w = decay * p, g = grad + wdCoupled * w,
 * m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g², p = w - stepSize m / (sqrt(v) / bc2Sqrt + eps).
 * Returns [p, m, v]. Shapes: p, grad, m, v same shape.
 */
export function refAdamStep(
  p: RefTensor,
  grad: RefTensor,
  m: RefTensor,
  v: RefTensor,
  a: AdamStepAttrs,
  step: number,
): RefTensor[] {
  const s = adamScalars(a, step);
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
}
