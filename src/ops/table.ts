// The table of every op and backward pass: its type lists them all, so a missing definition fails tsc.
import { adamUpdateOp } from './adam_update.js';
import { addOp, mulOp, subOp } from './arithmetic.js';
import {
  batchNormGradInputInferenceOp,
  batchNormGradInputOp,
  batchNormGradParamsOp,
  batchNormInferenceOp,
  batchNormTrainOp,
  batchNormUpdateOp,
} from './batchnorm.js';
import { concatOp, concatSliceOp } from './concat.js';
import { conv2dOp } from './conv2d.js';
import { cropFlipBackwardOp, cropFlipOp } from './crop_flip.js';
import { conv2dBackpropFilterOp } from './conv2d_backprop_filter.js';
import { conv2dBackpropInputOp } from './conv2d_backprop_input.js';
import { fillOp } from './fill.js';
import { denseOp, matmulOp } from './matmul.js';
import { ensembleCombineBackwardOp, ensembleCombineOp } from './ensemble_combine.js';
import { avgPool2dBackwardOp, avgPool2dOp, maxPool2dBackwardOp, maxPool2dOp } from './pool.js';
import { broadcastOp, meanOp, sumOp } from './reduce.js';
import { reluBackwardOp, reluOp } from './relu.js';
import { reshapeOp } from './reshape.js';
import { scaleOp } from './scale.js';
import {
  softmaxBackwardOp,
  softmaxCrossEntropyBackwardOp,
  softmaxCrossEntropyOp,
  softmaxOp,
} from './softmax_cross_entropy.js';
import { sgdMomentumUpdateOp, sgdUpdateOp } from './sgd_update.js';
import type { OpDef } from './types.js';

export type OpName =
  | 'fill'
  | 'add'
  | 'sub'
  | 'mul'
  | 'scale'
  | 'relu'
  | 'reluBackward'
  | 'sum'
  | 'mean'
  | 'broadcast'
  | 'reshape'
  | 'conv2d'
  | 'conv2dBackpropInput'
  | 'conv2dBackpropFilter'
  | 'matmul'
  | 'dense'
  | 'softmax'
  | 'softmaxBackward'
  | 'softmaxCrossEntropy'
  | 'softmaxCrossEntropyBackward'
  | 'sgdUpdate'
  | 'sgdMomentumUpdate'
  | 'adamUpdate'
  | 'maxPool2d'
  | 'maxPool2dBackward'
  | 'avgPool2d'
  | 'avgPool2dBackward'
  | 'batchNormTrain'
  | 'batchNormInference'
  | 'batchNormUpdate'
  | 'batchNormGradParams'
  | 'batchNormGradInput'
  | 'batchNormGradInputInference'
  | 'concat'
  | 'concatSlice'
  | 'cropFlip'
  | 'cropFlipBackward'
  | 'ensembleCombine'
  | 'ensembleCombineBackward';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const opTable: { readonly [K in OpName]: OpDef<any> } = {
  fill: fillOp,
  add: addOp,
  sub: subOp,
  mul: mulOp,
  scale: scaleOp,
  relu: reluOp,
  reluBackward: reluBackwardOp,
  sum: sumOp,
  mean: meanOp,
  broadcast: broadcastOp,
  reshape: reshapeOp,
  conv2d: conv2dOp,
  conv2dBackpropInput: conv2dBackpropInputOp,
  conv2dBackpropFilter: conv2dBackpropFilterOp,
  matmul: matmulOp,
  dense: denseOp,
  softmax: softmaxOp,
  softmaxBackward: softmaxBackwardOp,
  softmaxCrossEntropy: softmaxCrossEntropyOp,
  softmaxCrossEntropyBackward: softmaxCrossEntropyBackwardOp,
  sgdUpdate: sgdUpdateOp,
  sgdMomentumUpdate: sgdMomentumUpdateOp,
  adamUpdate: adamUpdateOp,
  maxPool2d: maxPool2dOp,
  maxPool2dBackward: maxPool2dBackwardOp,
  avgPool2d: avgPool2dOp,
  avgPool2dBackward: avgPool2dBackwardOp,
  batchNormTrain: batchNormTrainOp,
  batchNormInference: batchNormInferenceOp,
  batchNormUpdate: batchNormUpdateOp,
  batchNormGradParams: batchNormGradParamsOp,
  batchNormGradInput: batchNormGradInputOp,
  batchNormGradInputInference: batchNormGradInputInferenceOp,
  concat: concatOp,
  concatSlice: concatSliceOp,
  cropFlip: cropFlipOp,
  cropFlipBackward: cropFlipBackwardOp,
  ensembleCombine: ensembleCombineOp,
  ensembleCombineBackward: ensembleCombineBackwardOp,
};
