// In-place SGD updates (plain, and with momentum / Nesterov): one kernel per parameter, no outputs.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { record } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { sizeOf, type OpDef, type RefTensor, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, workgroupsFor } from './util.js';

export interface SgdUpdateAttrs {
  lr: number;
  weightDecay: number;
}

export interface SgdMomentumUpdateAttrs extends SgdUpdateAttrs {
  momentum: number;
  nesterov: boolean;
  /** The parameter's first step: the momentum buffer starts as the gradient (its old contents are ignored). */
  first: boolean;
}

/**
 * Checks that every input of an update op is float32 with the parameter's shape, and that the named scalar
 * hyper-parameters are finite. Shared by the SGD and Adam updates.
 */
export function checkUpdate(
  op: string,
  names: readonly string[],
  inputs: readonly TensorSpec[],
  scalars: Record<string, number>,
): [] {
  inputs.forEach((spec, i) => {
    expectFloat(op, names[i], spec);
    if (spec.shape.length !== inputs[0].shape.length || spec.shape.some((d, k) => d !== inputs[0].shape[k])) {
      throw new ShapeError(
        `${op}: argument '${names[i]}' ${fmtShape(spec.shape)} must match '${names[0]}' ${fmtShape(inputs[0].shape)}`,
      );
    }
  });
  for (const [name, value] of Object.entries(scalars)) {
    if (!Number.isFinite(value)) throw new ArgumentError(`${op}: '${name}' must be finite, got ${value}`);
  }
  return [];
}

/** Elementwise update dispatch over n elements with the given buffers. */
export function updateDispatch(
  shader: 'sgd_update' | 'sgd_momentum_update' | 'adam_update',
  n: number,
  uniforms: (number | { f32: number })[],
  buffers: GPUBuffer[],
) {
  return [{ shader, constants: { WG: ELEMENTWISE_WG }, uniforms, buffers, workgroups: workgroupsFor(n) }];
}

/** Float64 reference of one SGD step; returns [p, v] (v null without momentum). */
function refSgd(
  p: RefTensor,
  grad: RefTensor,
  v: RefTensor | null,
  a: SgdUpdateAttrs & Partial<SgdMomentumUpdateAttrs>,
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

export const sgdUpdateOp: OpDef<SgdUpdateAttrs> = {
  name: 'sgdUpdate',
  check: (inputs, a) => checkUpdate('sgdUpdate', ['p', 'grad'], inputs, { ...a }),
  forward(io, { lr, weightDecay }) {
    const n = sizeOf(io.inputs[0].spec.shape);
    return updateDispatch(
      'sgd_update',
      n,
      [n, { f32: lr }, { f32: weightDecay }],
      [io.inputs[0].buffer, io.inputs[1].buffer],
    );
  },
  writesInputs: [0],
  backward: null,
  cost: ([p]) => ({ flops: 4 * sizeOf(p.shape), bytes: 12 * sizeOf(p.shape) }),
  reference: ([p, grad], a) => refSgd(p, grad, null, a),
};

export const sgdMomentumUpdateOp: OpDef<SgdMomentumUpdateAttrs> = {
  name: 'sgdMomentumUpdate',
  check: (inputs, { lr, weightDecay, momentum }) =>
    checkUpdate('sgdMomentumUpdate', ['p', 'grad', 'v'], inputs, { lr, weightDecay, momentum }),
  forward(io, a) {
    const n = sizeOf(io.inputs[0].spec.shape);
    const uniforms = [
      n,
      { f32: a.lr },
      { f32: a.weightDecay },
      { f32: a.momentum },
      a.nesterov ? 1 : 0,
      a.first ? 1 : 0,
    ];
    return updateDispatch(
      'sgd_momentum_update',
      n,
      uniforms,
      io.inputs.map((t) => t.buffer),
    );
  },
  writesInputs: [0, 2],
  backward: null,
  cost: ([p]) => ({ flops: 7 * sizeOf(p.shape), bytes: 20 * sizeOf(p.shape) }),
  reference: ([p, grad, v], a) => refSgd(p, grad, v, a),
};

/**
 * Records p -= lr * (grad + weightDecay * p) in place. Shapes: p, grad same shape. p must be a leaf.
 */
export function sgdUpdate(p: Tensor, grad: Tensor, attrs: SgdUpdateAttrs): void {
  record(sgdUpdateOp, [p, grad], attrs, ['p', 'grad']);
}

/**
 * Records one SGD-with-momentum step in place on p and its momentum buffer v (see sgd_momentum_update.wgsl).
 * Shapes: p, grad, v same shape. p and v must be leaves.
 */
export function sgdMomentumUpdate(p: Tensor, grad: Tensor, v: Tensor, attrs: SgdMomentumUpdateAttrs): void {
  record(sgdMomentumUpdateOp, [p, grad, v], attrs, ['p', 'grad', 'v']);
}
