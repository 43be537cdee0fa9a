// softmax (inference, ensembles) and softmax cross-entropy with integer labels (the training loss).
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Dispatch, UniformValue } from '../gpu/runtime.js';
import { apply, record } from '../graph/record.js';
import { Tensor } from '../graph/tensor.js';
import {
  refSoftmax,
  refSoftmaxBackward,
  refSoftmaxCrossEntropy,
  refSoftmaxCrossEntropyBackward,
} from '../reference/softmax.js';
import { checkOptionKeys } from '../options.js';
import { sizeOf, type KernelIO, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, expectRank, workgroupsFor } from './util.js';

type NoAttrs = Record<string, never>;

/** Attributes of softmaxCrossEntropy and its backward pass. */
export interface CrossEntropyAttrs {
  /** Rows whose label equals it add nothing and are not counted in the mean (PyTorch's ignore_index). */
  ignoreIndex: number | null;
  /** Whether the labels were range-checked on the host when recorded (else the device checks them). */
  labelsChecked: boolean;
}

/** The uniforms that say which rows count: K, then the ignore index as (hasIgnore, ignoreIndex). */
function countedRows(k: number, attrs: CrossEntropyAttrs): UniformValue[] {
  return [k, attrs.ignoreIndex === null ? 0 : 1, { i32: attrs.ignoreIndex ?? 0 }];
}

/**
 * softmax.wgsl with the cross-entropy fused at the end of each row: labels bind after the logits, then the
 * probabilities and the per-row losses. A row that is not counted (ignored, or a label outside [0, K)) gets 0.
 * The row maximum is subtracted from the label's logit before log(s) is added, so huge tied logits keep log(s).
 */
const CROSS_ENTROPY_REGIONS = {
  PARAMS: ['  hasIgnore: u32,', '  ignoreIndex: i32,'].join('\n'),
  BINDINGS: [
    '@group(0) @binding(2) var<storage, read> labels: array<i32>;',
    '@group(0) @binding(3) var<storage, read_write> probs: array<f32>;',
    '@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;',
  ].join('\n'),
  ROW_END: [
    '  let label = labels[r];',
    '  var loss = 0.0;',
    '  if (label >= 0 && u32(label) < p.k && !(p.hasIgnore == 1u && label == p.ignoreIndex)) {',
    '    loss = log(s) + (mx - x[base + u32(label)]);',
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

/**
 * Outputs: 0 the mean loss [], 1 the softmax probabilities [N,K] saved for the backward pass, 2 the inverse of the
 * number of counted rows [] (0 when none), which the backward pass scales by.
 */
export const softmaxCrossEntropyOp: OpDef<CrossEntropyAttrs> = {
  name: 'softmaxCrossEntropy',
  check([logits, labels]) {
    checkLogitsLabels('softmaxCrossEntropy', logits, labels);
    return [
      { shape: [], dtype: 'float32' },
      { shape: logits.shape, dtype: 'float32' },
      { shape: [], dtype: 'float32' },
    ];
  },
  forward(io, attrs) {
    const [rows, k] = io.inputs[0].spec.shape;
    const [logits, labels] = io.inputs.map((t) => t.buffer);
    const [loss, probs, invCount] = io.outputs.map((t) => t.buffer);
    const counted = countedRows(k, attrs);
    const rowLoss = io.scratch(Math.max(rows, 1) * 4);
    const dispatches: Dispatch[] = [];
    if (!attrs.labelsChecked) dispatches.push(labelCheck(io, rows, k, attrs));
    if (rows > 0) {
      dispatches.push({
        shader: 'softmax',
        regions: CROSS_ENTROPY_REGIONS,
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [rows, ...counted],
        buffers: [logits, labels, probs, rowLoss],
        workgroups: workgroupsFor(rows),
      });
    }
    dispatches.push({
      shader: 'softmax_cross_entropy_mean',
      uniforms: [rows, ...counted],
      buffers: [rowLoss, labels, loss, invCount],
      workgroups: 1,
    });
    return dispatches;
  },
  // Only the loss is differentiable; the probabilities and the count are outputs for reuse, not for gradients.
  backward: [
    ({ inputs: [, labels], outputs: [, p, invCount], dys: [dy], attrs }) =>
      softmaxCrossEntropyBackward(dy!, p, labels, invCount, attrs),
    null,
  ],
  cost: ([logits]) => ({ flops: 5 * sizeOf(logits.shape), bytes: 8 * sizeOf(logits.shape) }),
  reference: ([logits, labels], attrs) => refSoftmaxCrossEntropy(logits, labels, attrs.ignoreIndex),
};

/** The device-side check of labels the host never saw: the first bad row fails the flush's reads. */
function labelCheck(io: KernelIO, rows: number, k: number, attrs: CrossEntropyAttrs): Dispatch {
  const { flags, slot } = io.check(
    (row) =>
      new ArgumentError(
        `softmaxCrossEntropy: labels[${row}] is outside [0, ${k})${attrs.ignoreIndex === null ? '' : ` and is not the ignoreIndex ${attrs.ignoreIndex}`} (labels computed on the device, checked there)`,
      ),
  );
  return {
    shader: 'check_labels',
    constants: { WG: ELEMENTWISE_WG },
    uniforms: [rows, ...countedRows(k, attrs), slot],
    buffers: [io.inputs[1].buffer, flags],
    workgroups: workgroupsFor(rows),
  };
}

export const softmaxCrossEntropyBackwardOp: OpDef<CrossEntropyAttrs> = {
  name: 'softmaxCrossEntropyBackward',
  check([dy, p, labels, invCount]) {
    const op = 'softmaxCrossEntropyBackward';
    for (const [name, t] of [
      ['dy', dy],
      ['invCount', invCount],
    ] as const) {
      expectFloat(op, name, t);
      if (sizeOf(t.shape) !== 1) {
        throw new ShapeError(`${op}: argument '${name}' must have one element, got ${fmtShape(t.shape)}`);
      }
    }
    checkLogitsLabels(op, p, labels);
    return [p];
  },
  forward(io, attrs) {
    const [rows, k] = io.inputs[1].spec.shape;
    const n = rows * k;
    if (n === 0) return [];
    return [
      {
        shader: 'softmax_cross_entropy_backward',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [n, ...countedRows(k, attrs)],
        buffers: [...io.inputs.map((t) => t.buffer), io.outputs[0].buffer],
        workgroups: workgroupsFor(n),
      },
    ];
  },
  backward: null,
  cost: ([, p]) => ({ flops: 3 * sizeOf(p.shape), bytes: 8 * sizeOf(p.shape) }),
  reference: ([dy, p, labels, invCount], attrs) => [
    refSoftmaxCrossEntropyBackward(dy, p, labels, invCount, attrs.ignoreIndex),
  ],
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

export interface CrossEntropyOptions {
  /**
   * A label value whose rows add nothing to the loss and get no gradient; the mean is over the other rows (NaN
   * when there are none), as PyTorch's `ignore_index`. Any integer; default: none, every row counts.
   */
  ignoreIndex?: number;
}

/** Throws ArgumentError naming the first host label outside [0, K) that is not the ignore index. */
function checkHostLabels(labels: Int32Array, k: number, ignoreIndex: number | null): void {
  for (let r = 0; r < labels.length; r++) {
    const l = labels[r];
    if ((l < 0 || l >= k) && l !== ignoreIndex) {
      throw new ArgumentError(
        `softmaxCrossEntropy: labels[${r}] = ${l} is outside [0, ${k}) for logits with ${k} classes` +
          (ignoreIndex === null
            ? ' (pass { ignoreIndex } to skip rows with a marker label; a model head with too few classes needs replaceHead)'
            : ` and is not the ignoreIndex ${ignoreIndex}`),
      );
    }
  }
}

/**
 * Mean softmax cross-entropy over the batch, like tf.losses.softmaxCrossEntropy with one-hot labels and PyTorch's
 * cross_entropy: mean over counted rows r of (logsumexp(logits[r]) - logits[r, labels[r]]), computed as
 * log(sum exp(logits[r] - max_r)) + (max_r - logits[r, label]) so huge logits keep their precision. The gradient
 * is (softmax - onehot) / count on counted rows, 0 on ignored ones.
 * Every label must be in [0, K) or equal `ignoreIndex`: labels from the host (tensor(), the data loaders) are
 * checked here, at once (ArgumentError naming the row); labels computed on the device are checked on the device,
 * and a bad one fails the reads of the flush that runs this op.
 * Shapes: logits [N,K], labels [N] int32 → [] (scalar).
 */
export function softmaxCrossEntropy(
  logits: Tensor,
  labels: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  checkOptionKeys('softmaxCrossEntropy', options, ['ignoreIndex']);
  const ignoreIndex = options.ignoreIndex ?? null;
  if (ignoreIndex !== null && !(Number.isInteger(ignoreIndex) && Math.abs(ignoreIndex) < 2 ** 31)) {
    throw new ArgumentError(`softmaxCrossEntropy: ignoreIndex must be an int32 integer, got ${ignoreIndex}`);
  }
  // Labels the host knows are range-checked here, once record() has checked shapes and dtypes.
  const host = labels instanceof Tensor ? labels.storage.host : null;
  const attrs: CrossEntropyAttrs = { ignoreIndex, labelsChecked: host !== null };
  const [loss] = record(softmaxCrossEntropyOp, [logits, labels], attrs, ['logits', 'labels']);
  if (host) {
    try {
      checkHostLabels(host, logits.shape[1], ignoreIndex);
    } catch (e) {
      // The recorded node then has no holder and is dropped by the next flush.
      for (const t of loss.node!.outputs) t.dispose();
      throw e;
    }
  }
  return loss;
}

/**
 * The backward pass of softmaxCrossEntropy from the saved probabilities and inverse row count.
 * Shapes: dy [], p [N,K], labels [N] int32, invCount [] → [N,K].
 */
export function softmaxCrossEntropyBackward(
  dy: Tensor,
  p: Tensor,
  labels: Tensor,
  invCount: Tensor,
  attrs: CrossEntropyAttrs,
): Tensor {
  return apply(softmaxCrossEntropyBackwardOp, [dy, p, labels, invCount], attrs, [
    'dy',
    'p',
    'labels',
    'invCount',
  ]);
}
