// webgrad's public API: engine lifetime, tensors, ops, autograd and errors.
// The WebGPU types (GPUDevice, GPUSupportedLimits, ...) come along, so users need no `types` entry of their own.
/// <reference types="@webgpu/types" preserve="true" />
/**
 * The engine, tensors, ops, autograd, models, training, data and files: `import * as wg from 'webgrad'`.
 * @module webgrad
 */
export { init, info, stats, release, type Stats, type AdapterInfo, type InitOptions } from './engine.js';
export type { PlanningLimits } from './gpu/limits.js';
export type { Backend } from './gpu/device.js';
export * from './errors.js';
export { Tensor } from './graph/tensor.js';
export {
  tensor,
  full,
  zeros,
  ones,
  randn,
  uniform,
  assignValues,
  type LeafOptions,
  type RandomOptions,
} from './graph/create.js';
export { Rng } from './graph/random.js';
export { tidy, keep, openScope, type Scope } from './graph/tidy.js';
export { flush } from './graph/scheduler.js';
export { tuned, tuneInfo, type TuneInfo } from './tune.js';
export { debug } from './graph/checks.js';
export { backward } from './graph/autograd.js';
export { grad, valueAndGrad, noGrad, type GradOptions } from './graph/functional.js';
export { add, sub, mul, div, pow, maximum, minimum } from './ops/arithmetic.js';
export {
  neg,
  abs,
  sign,
  exp,
  log,
  sqrt,
  rsqrt,
  square,
  reciprocal,
  sigmoid,
  tanh,
  relu6,
  erf,
  gelu,
  silu,
  softplus,
  leakyRelu,
  elu,
  clip,
} from './ops/unary.js';
export { greater, greaterEqual, less, lessEqual, equal, notEqual, where } from './ops/compare.js';
export { elementwise } from './ops/elementwise/op.js';
export * as expr from './ops/elementwise/expr.js';
export { scale } from './ops/scale.js';
export { relu } from './ops/relu.js';
export {
  sum,
  mean,
  max,
  min,
  argmax,
  argmin,
  broadcastTo,
  type ReduceAttrs,
  type ArgReduceAttrs,
} from './ops/reduce.js';
export { reshape, flatten } from './ops/reshape.js';
export {
  transpose,
  permute,
  slice,
  pad,
  expandDims,
  squeeze,
  stack,
  split,
  type SliceOptions,
  type PadOptions,
} from './ops/layout.js';
export { gather, indexSelect, type GatherOptions } from './ops/gather.js';
export { dropout, type DropoutOptions } from './ops/dropout.js';
export { conv2dTranspose, type Conv2dTransposeOptions } from './ops/conv_transpose.js';
export { maxPool2d, avgPool2d, globalAvgPool, type PoolOptions } from './ops/pool.js';
export { batchNorm, type BatchNormOptions } from './ops/batchnorm.js';
export { concat } from './ops/concat.js';
export { conv2d, type Conv2dOptions } from './ops/conv2d.js';
export {
  depthwiseConv2d,
  depthwiseBackpropFilter,
  depthwiseBackpropInput,
  type DepthwiseConv2dOptions,
} from './ops/depthwise.js';
export { conv2dBackpropInput } from './ops/conv2d_backprop_input.js';
export { conv2dBackpropFilter } from './ops/conv2d_backprop_filter.js';
export type { ConvAttrs, Padding, Pair } from './ops/conv_geometry.js';
export { matmul, dense, type MatmulAttrs, type DenseAttrs, type MatmulKernel } from './ops/matmul.js';
export { softmaxCrossEntropy, type CrossEntropyOptions } from './ops/softmax_cross_entropy.js';
export {
  softmax,
  logSoftmax,
  logSumExp,
  variance,
  moments,
  type AxisOptions,
  type VarianceOptions,
} from './ops/statistics.js';
export { cropFlip, type CropView } from './ops/crop_flip.js';
export { ensembleCombine, type CombineMode } from './ops/ensemble_combine.js';
export { opTable, type OpName } from './ops/table.js';
export type {
  BackwardContext,
  BackwardRule,
  Cost,
  DType,
  OpDef,
  RefTensor,
  TensorSpec,
} from './ops/types.js';
export type { UniformValue } from './gpu/runtime.js';
export {
  gradcheck,
  type GradcheckOptions,
  type GradcheckResult,
  type GradcheckMismatch,
} from './gradcheck.js';
export { evaluateReference, readLeaves, leavesOf, type LeafValues } from './reference/evaluate.js';
export {
  Optimizer,
  SGD,
  Adam,
  AdamW,
  stepSchedule,
  cosineSchedule,
  type SgdOptions,
  type AdamOptions,
  type Schedule,
  type StepScheduleOptions,
  type CosineScheduleOptions,
} from './optim/index.js';
export * as nn from './nn/index.js';
export { resnet, inception, buildModel, Network, Module } from './nn/index.js';
export * as io from './io/index.js';
export * as data from './data/index.js';
export {
  fit,
  evaluate,
  type FitOptions,
  type EpochRecord,
  type BatchProgress,
  type Evaluation,
  type EvaluateOptions,
} from './train/fit.js';
export { ensemble, Ensemble, type EnsembleOptions } from './train/ensemble.js';
export * as tta from './tta/index.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  loadModelCheckpoint,
  type SaveCheckpointOptions,
  type LoadedCheckpoint,
  type CheckpointModel,
} from './train/checkpoint.js';
export * as zoo from './zoo/index.js';
export { explain, type ExplainOptions, type Explanation } from './graph/explain.js';
export type { Plan, PlanKernel, PlanNode, PlanFusion, PlanMemory } from './graph/plan.js';
export { formatPlan } from './graph/plan_text.js';
export type { FusionOptions, FusionPass } from './options.js';
export { profile, type Profile, type ProfileKernel, type ProfileOptions } from './graph/profile.js';
export { defineOp, type UserOp, type UserOpDefinition } from './graph/define_op.js';
export * as transfer from './transfer/index.js';
