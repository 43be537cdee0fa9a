// batchNorm over the channel (last) axis: training with batch statistics and in-place running averages, inference.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply, record } from '../graph/record.js';
import { checkOptionKeys } from '../options.js';
import type { Tensor } from '../graph/tensor.js';
import {
  refBatchNormApply,
  refBatchNormFold,
  refBatchNormGradInput,
  refBatchNormGradInputInference,
  refBatchNormGradParams,
  refMoments,
  refMovingAverage,
} from '../reference/batchnorm.js';
import { checkMaskInput, refMasked, withReluMask, type MaskAttrs } from './elementwise/relu_mask.js';
import {
  gradSinglePass,
  storeThroughEpilogue,
  trainSinglePass,
  useSinglePass,
  type RunningUpdate,
} from './batchnorm_single.js';
import { channelLanes } from './lanes.js';
import { sizeOf, type BackwardContext, type KernelIO, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, workgroupsFor } from './util.js';

interface EpsAttrs {
  epsilon: number;
}

/** The backward kernels read dy, maybe through the ReLU mask of the relu after the batch norm (reluMask pass). */
type GradAttrs = EpsAttrs & MaskAttrs;

type UpdateAttrs = RunningUpdate;

/** Checks x [..., C] (rank >= 2) and that every per-channel argument is [C]; returns C. */
function checkChannels(op: string, x: TensorSpec, perChannel: Record<string, TensorSpec>): number {
  expectFloat(op, 'x', x);
  if (x.shape.length < 2) {
    throw new ShapeError(
      `${op}: argument 'x' must have rank >= 2 with channels last, got ${fmtShape(x.shape)}`,
    );
  }
  const c = x.shape[x.shape.length - 1];
  for (const [name, t] of Object.entries(perChannel)) {
    expectFloat(op, name, t);
    if (t.shape.length !== 1 || t.shape[0] !== c) {
      throw new ShapeError(
        `${op}: argument '${name}' must be [C] with C=${c} matching x ${fmtShape(x.shape)}, got ${fmtShape(t.shape)}`,
      );
    }
  }
  return c;
}

/** Throws ShapeError unless the backward op's dy has x's shape. */
function checkDyMatchesX(op: string, dy: TensorSpec, x: TensorSpec): void {
  if (dy.shape.length !== x.shape.length || dy.shape.some((d, i) => d !== x.shape[i])) {
    throw new ShapeError(`${op}: dy ${fmtShape(dy.shape)} must match x ${fmtShape(x.shape)}`);
  }
}

/** Rows per chunk of the two-pass channel reductions: enough chunks that every core has work, few enough to merge. */
function chunking(rows: number, groups: number): { chunk: number; count: number } {
  const wanted = Math.min(Math.ceil(4096 / Math.max(1, groups)), Math.ceil(rows / 16), 1024);
  const chunk = Math.max(1, Math.ceil(rows / Math.max(1, wanted)));
  return { chunk, count: Math.max(1, Math.ceil(rows / chunk)) };
}

function elementwise(io: KernelIO, shader: Dispatch['shader'], uniforms: Dispatch['uniforms']): Dispatch {
  const x = io.inputs[0].spec.shape;
  const { groups, regions } = channelLanes(x[x.length - 1]);
  const total = (sizeOf(x) / Math.max(1, x[x.length - 1])) * groups;
  return {
    shader,
    constants: { WG: ELEMENTWISE_WG },
    regions,
    uniforms: [total, groups, ...uniforms],
    buffers: [...io.inputs.map((t) => t.buffer), io.outputs[0].buffer],
    workgroups: workgroupsFor(total),
  };
}

/**
 * batch_norm_apply over x with the statistics in `reads` (x, gamma, beta, mean, variance), storing y through what
 * the scheduler fused into it (a residual add, ReLU: io.epilogue).
 */
function normalizeDispatch(io: KernelIO, reads: GPUBuffer[], y: GPUBuffer, epsilon: number): Dispatch {
  return storeThroughEpilogue(elementwise(io, 'batch_norm_apply', [{ f32: epsilon }]), io, reads, y);
}

interface ReductionSize {
  rows: number;
  groups: number;
  chunk: number;
  count: number;
}

/** Two passes over x [rows, C]: chunk partials into scratch, then a per-channel merge into the outputs. */
function channelReduction(
  io: KernelIO,
  xShape: readonly number[],
  first: { shader: Dispatch['shader']; buffers: GPUBuffer[] },
  second: {
    shader: Dispatch['shader'];
    uniforms: (s: ReductionSize) => Dispatch['uniforms'];
    buffers: GPUBuffer[];
  },
): Dispatch[] {
  const c = xShape[xShape.length - 1];
  const rows = sizeOf(xShape) / c;
  const { groups, regions } = channelLanes(c);
  const { chunk, count } = chunking(rows, groups);
  const part = io.scratch(count * 2 * c * 4);
  return [
    {
      shader: first.shader,
      constants: { WG: ELEMENTWISE_WG },
      regions,
      uniforms: [rows, groups, chunk, count],
      buffers: [...first.buffers, part],
      workgroups: workgroupsFor(count * groups),
    },
    {
      shader: second.shader,
      constants: { WG: ELEMENTWISE_WG },
      regions,
      uniforms: second.uniforms({ rows, groups, chunk, count }),
      buffers: [part, ...second.buffers],
      workgroups: workgroupsFor(groups),
    },
  ];
}

const perChannelCost = (x: TensorSpec, reads: number) => ({
  flops: 4 * sizeOf(x.shape),
  bytes: 4 * reads * sizeOf(x.shape),
});

/**
 * Training forward: batch mean and biased variance (outputs 1 and 2, saved for the backward and the running
 * averages; they are internal, so gradients reaching them are not propagated), then the normalized output. One
 * dispatch when the rows are few (ops/batchnorm_single.ts singlePass), else statistics in two passes, then apply.
 */
export const batchNormTrainOp: OpDef<EpsAttrs> = {
  name: 'batchNormTrain',
  check([x, gamma, beta]) {
    const c = checkChannels('batchNorm', x, { gamma, beta });
    return [x, { shape: [c], dtype: 'float32' }, { shape: [c], dtype: 'float32' }];
  },
  forward: (io, attrs) =>
    useSinglePass(io.inputs[0].spec.shape)
      ? [trainSinglePass(io, attrs.epsilon, null)]
      : trainTwoPass(io, attrs),
  epilogues: ['add', 'relu'],
  backward: [
    (ctx) => batchNormGradInput(ctx),
    (ctx) => gradParams(ctx, ctx.outputs[1], ctx.outputs[2])[0],
    (ctx) => gradParams(ctx, ctx.outputs[1], ctx.outputs[2])[1],
  ],
  cost: ([x]) => perChannelCost(x, 3),
  reference([x, gamma, beta], { epsilon }) {
    const { mean, variance } = refMoments(x);
    return [refBatchNormApply(x, gamma, beta, mean, variance, epsilon), mean, variance];
  },
};

/** The training forward for long reductions: batch_norm_stats, batch_norm_stats_combine, batch_norm_apply. */
export function trainTwoPass(io: KernelIO, { epsilon }: EpsAttrs): Dispatch[] {
  const [x, gamma, beta] = io.inputs.map((t) => t.buffer);
  const [y, mean, variance] = io.outputs.map((t) => t.buffer);
  const stats = channelReduction(
    io,
    io.inputs[0].spec.shape,
    { shader: 'batch_norm_stats', buffers: [x] },
    {
      shader: 'batch_norm_stats_combine',
      uniforms: ({ rows, groups, chunk, count }) => [rows, groups, chunk, count],
      buffers: [mean, variance],
    },
  );
  return [...stats, normalizeDispatch(io, [x, gamma, beta, mean, variance], y, epsilon)];
}

/** Inference forward with fixed statistics (the running averages). */
export const batchNormInferenceOp: OpDef<EpsAttrs> = {
  name: 'batchNormInference',
  check([x, gamma, beta, mean, variance]) {
    checkChannels('batchNorm', x, { gamma, beta, runningMean: mean, runningVar: variance });
    return [x];
  },
  forward: (io, { epsilon }) => [
    normalizeDispatch(
      io,
      io.inputs.map((t) => t.buffer),
      io.outputs[0].buffer,
      epsilon,
    ),
  ],
  epilogues: ['add', 'relu'],
  asEpilogue: 'bn',
  backward: [
    ({ inputs, dys, attrs }) => batchNormGradInputInference(dys[0]!, inputs[1], inputs[4], attrs.epsilon),
    (ctx) => gradParams(ctx, ctx.inputs[3], ctx.inputs[4])[0],
    (ctx) => gradParams(ctx, ctx.inputs[3], ctx.inputs[4])[1],
    null,
    null,
  ],
  cost: ([x]) => perChannelCost(x, 2),
  reference: ([x, gamma, beta, mean, variance], { epsilon }) => [
    refBatchNormApply(x, gamma, beta, mean, variance, epsilon),
  ],
};

/**
 * An inference batch norm folded into the conv before it (made by the foldBatchNorm fusion pass, not by users):
 * the conv's filter scaled per output channel and the bias that replaces the normalization.
 * Shapes: w [KH,KW,Cin,C] (any rank, channel last), gamma, beta, mean, variance, bias? [C] → w's shape, [C].
 */
export const batchNormFoldOp: OpDef<EpsAttrs> = {
  name: 'batchNormFold',
  check([w, gamma, beta, mean, variance, bias]) {
    const c = checkChannels('batchNormFold', w, {
      gamma,
      beta,
      runningMean: mean,
      runningVar: variance,
      ...(bias ? { bias } : {}),
    });
    return [w, { shape: [c], dtype: 'float32' }];
  },
  forward(io, { epsilon }) {
    const shape = io.inputs[0].spec.shape;
    const total = sizeOf(shape);
    const [w, gamma, beta, mean, variance, bias] = io.inputs.map((t) => t.buffer);
    return [
      {
        shader: 'batch_norm_fold',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [total, shape[shape.length - 1], bias ? 1 : 0, { f32: epsilon }],
        buffers: [w, gamma, beta, mean, variance, bias ?? gamma, ...io.outputs.map((t) => t.buffer)],
        workgroups: workgroupsFor(total),
      },
    ];
  },
  backward: null,
  cost: ([w]) => ({ flops: 2 * sizeOf(w.shape), bytes: 8 * sizeOf(w.shape) }),
  reference: ([w, gamma, beta, mean, variance, bias], { epsilon }) =>
    refBatchNormFold(w, gamma, beta, mean, variance, epsilon, bias),
};

/** batch_norm_update over C channels: `buffers` runningMean, runningVar (overwritten), mean, variance. */
function updateDispatch(c: number, buffers: GPUBuffer[], { momentum, varianceScale }: UpdateAttrs): Dispatch {
  const { groups, regions } = channelLanes(c);
  return {
    shader: 'batch_norm_update',
    constants: { WG: ELEMENTWISE_WG },
    regions,
    uniforms: [groups, { f32: momentum }, { f32: varianceScale }],
    buffers,
    workgroups: workgroupsFor(groups),
  };
}

/**
 * In place: runningMean = momentum * runningMean + (1 - momentum) * mean, and runningVar the same with
 * varianceScale * variance (the biased batch variance, or rescaled to the unbiased one).
 */
export const batchNormUpdateOp: OpDef<UpdateAttrs> = {
  name: 'batchNormUpdate',
  check([runningMean, runningVar, mean, variance], { momentum, varianceScale }) {
    checkChannels(
      'batchNormUpdate',
      { shape: [1, mean.shape[0]], dtype: 'float32' },
      { runningMean, runningVar, mean, variance },
    );
    if (!(momentum >= 0 && momentum <= 1)) {
      throw new ArgumentError(`batchNorm: argument 'momentum' must be in [0, 1], got ${momentum}`);
    }
    if (!(Number.isFinite(varianceScale) && varianceScale > 0)) {
      throw new ArgumentError(
        `batchNormUpdate: argument 'varianceScale' must be a positive finite number, got ${varianceScale}`,
      );
    }
    return [];
  },
  writesInputs: [0, 1],
  forward: (io, attrs) => [
    updateDispatch(
      io.inputs[0].spec.shape[0],
      io.inputs.map((t) => t.buffer),
      attrs,
    ),
  ],
  backward: null,
  cost: ([m]) => ({ flops: 7 * m.shape[0], bytes: 24 * m.shape[0] }),
  reference: ([runningMean, runningVar, mean, variance], { momentum, varianceScale }) => [
    refMovingAverage(runningMean, mean, momentum, 1),
    refMovingAverage(runningVar, variance, momentum, varianceScale),
  ],
};

/**
 * batchNormTrain and batchNormUpdate as one node, recorded by batchNorm where the single pass runs (the
 * `batchNormSingle` fusion, ops/batchnorm_single.ts): inputs x, gamma, beta, runningMean, runningVar, the last two
 * overwritten in place; outputs y, mean, variance as batchNormTrain's, with its backward rules. One dispatch:
 * batch_norm_train_single's workgroup that computes a channel group's statistics also updates its running
 * averages, with batch_norm_update's formula (float32 results alike). Planned where the rule no longer holds (the
 * switch set after recording), it runs batchNormTrain's two-pass kernels, then batch_norm_update.
 */
export const batchNormTrainUpdateOp: OpDef<EpsAttrs & UpdateAttrs> = {
  name: 'batchNormTrainUpdate',
  check([x, gamma, beta, runningMean, runningVar], attrs) {
    const specs = batchNormTrainOp.check([x, gamma, beta], attrs);
    batchNormUpdateOp.check([runningMean, runningVar, specs[1], specs[2]], attrs);
    return specs;
  },
  writesInputs: [3, 4],
  forward(io, attrs) {
    const x = io.inputs[0].spec.shape;
    if (useSinglePass(x)) return [trainSinglePass(io, attrs.epsilon, attrs)];
    const [, , , runningMean, runningVar] = io.inputs.map((t) => t.buffer);
    const [, mean, variance] = io.outputs.map((t) => t.buffer);
    const update = updateDispatch(x[x.length - 1], [runningMean, runningVar, mean, variance], attrs);
    return [...trainTwoPass(io, attrs), update];
  },
  epilogues: batchNormTrainOp.epilogues,
  backward: [...batchNormTrainOp.backward!, null, null],
  cost(inputs, attrs) {
    const train = batchNormTrainOp.cost(inputs.slice(0, 3), attrs);
    const update = batchNormUpdateOp.cost(inputs.slice(3), attrs);
    return { flops: train.flops + update.flops, bytes: train.bytes + update.bytes };
  },
  reference(inputs, attrs) {
    const [y, mean, variance] = batchNormTrainOp.reference(inputs.slice(0, 3), attrs);
    return [y, mean, variance, ...batchNormUpdateOp.reference([inputs[3], inputs[4], mean, variance], attrs)];
  },
};

/**
 * dgamma and dbeta: per-channel sums over every row, two passes so long reductions stay parallel. With
 * `reluMask`, a fifth input y (relu's output) masks dy first.
 */
export const batchNormGradParamsOp: OpDef<GradAttrs> = {
  name: 'batchNormGradParams',
  masksInput: 0,
  check(inputs, attrs) {
    const [dy, x, mean, variance] = checkMaskInput('batchNormGradParams', inputs, attrs, 4, 0);
    const c = checkChannels('batchNormGradParams', x, { mean, variance });
    checkDyMatchesX('batchNormGradParams', dy, x);
    return [
      { shape: [c], dtype: 'float32' },
      { shape: [c], dtype: 'float32' },
    ];
  },
  forward(io, { epsilon }) {
    const [dy, x, mean, variance, y] = io.inputs.map((t) => t.buffer);
    const [partials, combine] = channelReduction(
      io,
      io.inputs[1].spec.shape,
      { shader: 'batch_norm_grad_params', buffers: [dy, x, mean] },
      {
        shader: 'batch_norm_grad_params_combine',
        uniforms: ({ groups, count }) => [groups, count, { f32: epsilon }],
        buffers: [variance, io.outputs[0].buffer, io.outputs[1].buffer],
      },
    );
    return [withReluMask(partials, 'V', y ?? null), combine];
  },
  backward: null,
  cost: ([dy], attrs) => perChannelCost(dy, attrs.reluMask ? 3 : 2),
  reference: (inputs, { epsilon, reluMask }) => {
    const [dy, x, mean, variance] = refMasked(inputs, { reluMask }, 4, 0);
    return refBatchNormGradParams(dy, x, mean, variance, epsilon);
  },
};

/** dx in training mode, where the batch statistics depend on x. With `reluMask`, an eighth input y masks dy. */
export const batchNormGradInputOp: OpDef<GradAttrs> = {
  name: 'batchNormGradInput',
  masksInput: 0,
  check(inputs, attrs) {
    const [dy, x, gamma, mean, variance, dgamma, dbeta] = checkMaskInput(
      'batchNormGradInput',
      inputs,
      attrs,
      7,
      0,
    );
    checkChannels('batchNormGradInput', x, { gamma, mean, variance, dgamma, dbeta });
    checkDyMatchesX('batchNormGradInput', dy, x);
    return [x];
  },
  forward(io, { epsilon }) {
    const x = io.inputs[1].spec.shape;
    const rows = sizeOf(x) / x[x.length - 1];
    const d = elementwise(io, 'batch_norm_grad_input', [{ f32: epsilon }, { f32: 1 / rows }]);
    const own = io.inputs.slice(0, 7).map((t) => t.buffer);
    // Its Params (include batch_norm_grad_bindings, shared with batch_norm_grad_single) start with rows, not the
    // element count `elementwise` puts first.
    const uniforms = [rows, ...d.uniforms.slice(1)];
    const buffers = [...own, io.outputs[0].buffer];
    return [withReluMask({ ...d, uniforms, buffers }, 'V', io.inputs[7]?.buffer ?? null)];
  },
  backward: null,
  cost: ([dy], attrs) => perChannelCost(dy, attrs.reluMask ? 4 : 3),
  reference: (inputs, { epsilon, reluMask }) => {
    const [dy, x, gamma, mean, variance, dgamma, dbeta] = refMasked(inputs, { reluMask }, 7, 0);
    return [refBatchNormGradInput(dy, x, gamma, mean, variance, dgamma, dbeta, epsilon)];
  },
};

/**
 * The whole training backward in one dispatch (ops/batchnorm_single.ts): dx, dgamma and dbeta, recorded by x's
 * backward rule when the rows are few (singlePass). With `reluMask`, a sixth input y masks dy.
 */
export const batchNormGradOp: OpDef<GradAttrs> = {
  name: 'batchNormGrad',
  masksInput: 0,
  check(inputs, attrs) {
    const [dy, x, gamma, mean, variance] = checkMaskInput('batchNormGrad', inputs, attrs, 5, 0);
    const c = checkChannels('batchNormGrad', x, { gamma, mean, variance });
    checkDyMatchesX('batchNormGrad', dy, x);
    return [x, { shape: [c], dtype: 'float32' }, { shape: [c], dtype: 'float32' }];
  },
  forward: (io, { epsilon }) => [
    withReluMask(gradSinglePass(io, epsilon), 'V', io.inputs[5]?.buffer ?? null),
  ],
  backward: null,
  // dy and x are read twice (the sums, then dx), dx written once.
  cost: ([dy], attrs) => perChannelCost(dy, attrs.reluMask ? 7 : 5),
  reference: (inputs, { epsilon, reluMask }) => {
    const [dy, x, gamma, mean, variance] = refMasked(inputs, { reluMask }, 5, 0);
    const [dgamma, dbeta] = refBatchNormGradParams(dy, x, mean, variance, epsilon);
    return [refBatchNormGradInput(dy, x, gamma, mean, variance, dgamma, dbeta, epsilon), dgamma, dbeta];
  },
};

/** dx in inference mode: a per-channel scale of dy. */
export const batchNormGradInputInferenceOp: OpDef<EpsAttrs> = {
  name: 'batchNormGradInputInference',
  check([dy, gamma, variance]) {
    checkChannels('batchNormGradInputInference', dy, { gamma, variance });
    return [dy];
  },
  forward: (io, { epsilon }) => [elementwise(io, 'batch_norm_grad_input_inference', [{ f32: epsilon }])],
  backward: null,
  cost: ([dy]) => perChannelCost(dy, 2),
  reference: ([dy, gamma, variance], { epsilon }) => [
    refBatchNormGradInputInference(dy, gamma, variance, epsilon),
  ],
};

/**
 * dgamma and dbeta are needed by up to three backward rules of one node (x, gamma, beta): computed once per
 * output gradient, keyed by the forward output y.
 */
const paramGrads = new WeakMap<Tensor, { dy: Tensor; grads: Tensor[] }>();

function gradParams(ctx: BackwardContext<EpsAttrs>, mean: Tensor, variance: Tensor): Tensor[] {
  const y = ctx.outputs[0];
  const dy = ctx.dys[0]!;
  const hit = paramGrads.get(y);
  if (hit && hit.dy === dy && !hit.grads[0].disposed) return hit.grads;
  const grads = record(batchNormGradParamsOp, [dy, ctx.inputs[0], mean, variance], {
    epsilon: ctx.attrs.epsilon,
  });
  paramGrads.set(y, { dy, grads });
  return grads;
}

/**
 * x's gradient. Short reductions: one batchNormGrad node, whose dgamma and dbeta go to the cache the gamma and
 * beta rules read (they run after x's). Long ones: batchNormGradParams, then batchNormGradInput.
 */
function batchNormGradInput(ctx: BackwardContext<EpsAttrs>): Tensor {
  const [x, gamma] = ctx.inputs;
  const [, mean, variance] = ctx.outputs;
  if (useSinglePass(x.shape)) {
    const dy = ctx.dys[0]!;
    const [dx, ...grads] = record(batchNormGradOp, [dy, x, gamma, mean, variance], {
      epsilon: ctx.attrs.epsilon,
    });
    paramGrads.set(ctx.outputs[0], { dy, grads });
    return dx;
  }
  const [dgamma, dbeta] = gradParams(ctx, mean, variance);
  return apply(batchNormGradInputOp, [ctx.dys[0]!, x, gamma, mean, variance, dgamma, dbeta], {
    epsilon: ctx.attrs.epsilon,
  });
}

function batchNormGradInputInference(dy: Tensor, gamma: Tensor, variance: Tensor, epsilon: number): Tensor {
  return apply(batchNormGradInputInferenceOp, [dy, gamma, variance], { epsilon });
}

export interface BatchNormOptions {
  gamma: Tensor;
  beta: Tensor;
  /** Moving mean, updated in place in training mode; must be a leaf tensor. */
  runningMean: Tensor;
  /** Moving variance, updated in place in training mode; must be a leaf tensor. */
  runningVar: Tensor;
  /** Batch statistics and running-average updates (true), or the running averages as they are (false). */
  training: boolean;
  /** Weight of the old running value (Keras convention): running = momentum * running + (1 - momentum) * batch. Default 0.99. */
  momentum?: number;
  /** Added to the variance before the square root. Default 1e-3 (Keras). */
  epsilon?: number;
  /**
   * The batch variance that enters runningVar divides the squared deviations by rows - runningVarCorrection
   * (rows = N*H*W): 0 (default) the biased variance, as Keras 3; 1 the unbiased one, as PyTorch's BatchNorm2d.
   * Normalization in training always uses the biased variance, in both frameworks.
   */
  runningVarCorrection?: number;
}

/**
 * Batch normalization over the channel (last) axis, as Keras 3's BatchNormalization layer computes it:
 * y = (x - mean) / sqrt(variance + epsilon) * gamma + beta.
 * Training: mean and variance are the batch statistics over every axis but the last (biased variance, divided
 * by rows = N*H*W), and runningMean / runningVar are updated in place. By default the running variance takes
 * the same biased batch variance, as Keras 3 does (`ops.moments`); `runningVarCorrection: 1` gives it the
 * unbiased variance (times rows / (rows - 1)) instead, as PyTorch's BatchNorm2d and tf.keras 2's fused kernel
 * do. With it, a batch of one value per channel is a ShapeError (PyTorch: "Expected more than 1 value per
 * channel when training"), not an infinite running variance.
 * Inference: the running averages are used and left unchanged; gradients still flow to x, gamma and beta.
 * Shapes: x [N,H,W,C] or [N,C] (any rank >= 2, channels last); gamma, beta, runningMean, runningVar [C] → x's shape.
 */
export function batchNorm(x: Tensor, options: BatchNormOptions): Tensor {
  checkOptionKeys('batchNorm', options, [
    'gamma',
    'beta',
    'runningMean',
    'runningVar',
    'training',
    'momentum',
    'epsilon',
    'runningVarCorrection',
  ]);
  const {
    gamma,
    beta,
    runningMean,
    runningVar,
    training,
    momentum = 0.99,
    epsilon = 1e-3,
    runningVarCorrection = 0,
  } = options;
  if (!(Number.isFinite(epsilon) && epsilon > 0)) {
    throw new ArgumentError(`batchNorm: argument 'epsilon' must be a positive number, got ${epsilon}`);
  }
  if (typeof training !== 'boolean') {
    throw new ArgumentError(`batchNorm: argument 'training' must be a boolean, got ${String(training)}`);
  }
  if (
    typeof runningVarCorrection !== 'number' ||
    !(Number.isFinite(runningVarCorrection) && runningVarCorrection >= 0)
  ) {
    throw new ArgumentError(
      `batchNorm: argument 'runningVarCorrection' must be a finite number >= 0 (0 biased, 1 unbiased), got ${String(runningVarCorrection)}`,
    );
  }
  if (!training) {
    return apply(batchNormInferenceOp, [x, gamma, beta, runningMean, runningVar], { epsilon }, [
      'x',
      'gamma',
      'beta',
      'runningMean',
      'runningVar',
    ]);
  }
  if (!(momentum >= 0 && momentum <= 1)) {
    throw new ArgumentError(`batchNorm: argument 'momentum' must be in [0, 1], got ${momentum}`);
  }
  // Checked before anything is recorded; a rank below 2 is left to batchNormTrain's shape rule.
  const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (runningVarCorrection > 0 && x.shape.length >= 2 && !(rows > runningVarCorrection)) {
    throw new ShapeError(
      `batchNorm: argument 'x' ${fmtShape(x.shape)} has ${rows} value${rows === 1 ? '' : 's'} per channel: expected more than ${runningVarCorrection} when training with runningVarCorrection ${runningVarCorrection} (PyTorch: "Expected more than 1 value per channel when training")`,
    );
  }
  const varianceScale = runningVarCorrection === 0 ? 1 : rows / (rows - runningVarCorrection);
  const update = { momentum, varianceScale };
  if (useSinglePass(x.shape) && !sharesStorage([runningMean, runningVar], [x, gamma, beta])) {
    const inputs = [x, gamma, beta, runningMean, runningVar];
    const names = ['x', 'gamma', 'beta', 'runningMean', 'runningVar'];
    return record(batchNormTrainUpdateOp, inputs, { epsilon, ...update }, names)[0];
  }
  const [y, mean, variance] = record(batchNormTrainOp, [x, gamma, beta], { epsilon }, ['x', 'gamma', 'beta']);
  record(batchNormUpdateOp, [runningMean, runningVar, mean, variance], update, [
    'runningMean',
    'runningVar',
    'mean',
    'variance',
  ]);
  return y;
}

/**
 * Whether a tensor of `written` shares its storage with one of `read`: one kernel cannot bind a buffer both
 * read-only and read_write, so such running averages keep their own update dispatch. (Non-tensors are left to
 * record's typed error.)
 */
function sharesStorage(written: readonly Tensor[], read: readonly Tensor[]): boolean {
  const storages = new Set(read.map((t) => (t as Partial<Tensor> | undefined)?.storage));
  return written.some((t) => storages.has((t as Partial<Tensor> | undefined)?.storage));
}
