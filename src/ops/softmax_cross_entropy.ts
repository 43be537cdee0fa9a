// softmax (inference, ensembles) and softmax cross-entropy with integer labels (the training loss).
import { ShapeError, fmtShape } from '../errors.js';
import { apply, record } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import {
  refSoftmax,
  refSoftmaxBackward,
  refSoftmaxCrossEntropy,
  refSoftmaxCrossEntropyBackward,
} from '../reference/softmax.js';
import { sizeOf, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, expectRank, workgroupsFor } from './util.js';

type NoAttrs = Record<string, never>;

/**
 * softmax.wgsl with the cross-entropy fused at the end of each row: labels bind after the logits, then the
 * probabilities and the per-row losses. A label outside [0, K) stands for an all-zero one-hot row: loss 0.
 */
const CROSS_ENTROPY_REGIONS = {
  BINDINGS: [
    '@group(0) @binding(2) var<storage, read> labels: array<i32>;',
    '@group(0) @binding(3) var<storage, read_write> probs: array<f32>;',
    '@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;',
  ].join('\n'),
  ROW_END: [
    '  let label = labels[r];',
    '  var loss = 0.0;',
    '  if (label >= 0 && u32(label) < p.k) {',
    '    loss = log(s) + mx - x[base + u32(label)];',
    '  }',
    '  rowLoss[r] = loss;',
  ].join('\n'),
};

/** Rows and row length of a tensor softmaxed over its last axis. */
function rowsOf(shape: readonly number[]): { rows: number; k: number } {
  const k = shape[shape.length - 1];
  return { rows: k === 0 ? 0 : sizeOf(shape) / k, k };
}

function expectLastAxis(op: string, arg: string, x: TensorSpec): void {
  expectFloat(op, arg, x);
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] < 1) {
    throw new ShapeError(
      `${op}: argument '${arg}' must have a last axis of length >= 1, got ${fmtShape(x.shape)}`,
    );
  }
}

function sameShape(op: string, names: [string, string], a: TensorSpec, b: TensorSpec): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(
      `${op}: arguments '${names[0]}' ${fmtShape(a.shape)} and '${names[1]}' ${fmtShape(b.shape)} must have the same shape`,
    );
  }
}

export const softmaxOp: OpDef<NoAttrs> = {
  name: 'softmax',
  check([x]) {
    expectLastAxis('softmax', 'logits', x);
    return [x];
  },
  forward(io) {
    const { rows, k } = rowsOf(io.inputs[0].spec.shape);
    return [
      {
        shader: 'softmax',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [rows, k],
        buffers: [io.inputs[0].buffer, io.outputs[0].buffer],
        workgroups: workgroupsFor(rows),
      },
    ];
  },
  backward: [({ outputs: [p], dys: [dy] }) => softmaxBackward(dy!, p)],
  cost: ([x]) => ({ flops: 4 * sizeOf(x.shape), bytes: 8 * sizeOf(x.shape) }),
  reference: ([x]) => [refSoftmax(x)],
};

export const softmaxBackwardOp: OpDef<NoAttrs> = {
  name: 'softmaxBackward',
  check([dy, p]) {
    expectFloat('softmaxBackward', 'dy', dy);
    expectLastAxis('softmaxBackward', 'p', p);
    sameShape('softmaxBackward', ['dy', 'p'], dy, p);
    return [p];
  },
  forward(io) {
    const { rows, k } = rowsOf(io.inputs[1].spec.shape);
    return [
      {
        shader: 'softmax_backward',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [rows, k],
        buffers: [io.inputs[0].buffer, io.inputs[1].buffer, io.outputs[0].buffer],
        workgroups: workgroupsFor(rows),
      },
    ];
  },
  backward: null,
  cost: ([dy]) => ({ flops: 4 * sizeOf(dy.shape), bytes: 12 * sizeOf(dy.shape) }),
  reference: ([dy, p]) => [refSoftmaxBackward(dy, p)],
};

function checkLogitsLabels(op: string, logits: TensorSpec, labels: TensorSpec): void {
  expectRank(op, 'logits', logits, 2, '[N,K]');
  expectLastAxis(op, 'logits', logits);
  if (labels.dtype !== 'int32')
    throw new ShapeError(`${op}: argument 'labels' must be int32, got ${labels.dtype}`);
  if (labels.shape.length !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new ShapeError(
      `${op}: argument 'labels' must be [N] with N=${logits.shape[0]} matching logits ${fmtShape(logits.shape)}, got ${fmtShape(labels.shape)}`,
    );
  }
}

/** Outputs: 0 the mean loss [], 1 the softmax probabilities [N,K] saved for the backward pass. */
export const softmaxCrossEntropyOp: OpDef<NoAttrs> = {
  name: 'softmaxCrossEntropy',
  check([logits, labels]) {
    checkLogitsLabels('softmaxCrossEntropy', logits, labels);
    return [
      { shape: [], dtype: 'float32' },
      { shape: logits.shape, dtype: 'float32' },
    ];
  },
  forward(io) {
    const [rows, k] = io.inputs[0].spec.shape;
    if (rows === 0) return [];
    const rowLoss = io.scratch(rows * 4);
    return [
      {
        shader: 'softmax',
        regions: CROSS_ENTROPY_REGIONS,
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [rows, k],
        buffers: [io.inputs[0].buffer, io.inputs[1].buffer, io.outputs[1].buffer, rowLoss],
        workgroups: workgroupsFor(rows),
      },
      // The mean over the batch in one invocation: N row losses are few, and the order is fixed.
      {
        shader: 'reduce_sum',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [1, rows, 1, rows, 1, { f32: 1 / rows }],
        buffers: [rowLoss, io.outputs[0].buffer],
        workgroups: 1,
      },
    ];
  },
  // Only the loss is differentiable; the probabilities are an output for reuse, not for further gradients.
  backward: [
    ({ inputs: [, labels], outputs: [, p], dys: [dy] }) => softmaxCrossEntropyBackward(dy!, p, labels),
    null,
  ],
  cost: ([logits]) => ({ flops: 5 * sizeOf(logits.shape), bytes: 8 * sizeOf(logits.shape) }),
  reference: ([logits, labels]) => refSoftmaxCrossEntropy(logits, labels),
};

export const softmaxCrossEntropyBackwardOp: OpDef<NoAttrs> = {
  name: 'softmaxCrossEntropyBackward',
  check([dy, p, labels]) {
    expectFloat('softmaxCrossEntropyBackward', 'dy', dy);
    if (sizeOf(dy.shape) !== 1) {
      throw new ShapeError(
        `softmaxCrossEntropyBackward: argument 'dy' must have one element, got ${fmtShape(dy.shape)}`,
      );
    }
    checkLogitsLabels('softmaxCrossEntropyBackward', p, labels);
    return [p];
  },
  forward(io) {
    const [rows, k] = io.inputs[1].spec.shape;
    const n = rows * k;
    if (n === 0) return [];
    return [
      {
        shader: 'softmax_cross_entropy_backward',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [n, k, { f32: 1 / rows }],
        buffers: [io.inputs[0].buffer, io.inputs[1].buffer, io.inputs[2].buffer, io.outputs[0].buffer],
        workgroups: workgroupsFor(n),
      },
    ];
  },
  backward: null,
  cost: ([, p]) => ({ flops: 3 * sizeOf(p.shape), bytes: 8 * sizeOf(p.shape) }),
  reference: ([dy, p, labels]) => [refSoftmaxCrossEntropyBackward(dy, p, labels)],
};

/**
 * Softmax over the last axis (max-subtracted, so large logits do not overflow).
 * Shapes: logits [..., K] → same shape.
 */
export function softmax(logits: Tensor): Tensor {
  return apply(softmaxOp, [logits], {}, ['logits']);
}

/** The backward pass of softmax from its output p: dx = p * (dy - sum(dy * p)). Shapes: dy, p same → same. */
export function softmaxBackward(dy: Tensor, p: Tensor): Tensor {
  return apply(softmaxBackwardOp, [dy, p], {}, ['dy', 'p']);
}

/**
 * Mean softmax cross-entropy over the batch, like tf.losses.softmaxCrossEntropy with one-hot labels:
 * mean_r (logsumexp(logits[r]) - logits[r, labels[r]]). The gradient is (softmax - onehot) / N.
 * Labels live on the GPU, so their range cannot be checked when the op is recorded: a label outside
 * [0, K) acts as an all-zero one-hot row, which adds 0 to the sum (still divided by the full N) and gets
 * zero gradient.
 * Shapes: logits [N,K], labels [N] int32 → [] (scalar).
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor): Tensor {
  return record(softmaxCrossEntropyOp, [logits, labels], {}, ['logits', 'labels'])[0];
}

/** The backward pass of softmaxCrossEntropy. Shapes: dy [], p [N,K], labels [N] int32 → [N,K]. */
export function softmaxCrossEntropyBackward(dy: Tensor, p: Tensor, labels: Tensor): Tensor {
  return apply(softmaxCrossEntropyBackwardOp, [dy, p, labels], {}, ['dy', 'p', 'labels']);
}
