// The table of every op and backward pass: its type lists them all, so a missing definition fails tsc.
import { adamUpdateOp } from './adam_update.js';
import { addOp, divOp, maximumOp, minimumOp, mulOp, powOp, subOp } from './arithmetic.js';
import {
  batchNormFoldOp,
  batchNormGradInputInferenceOp,
  batchNormGradInputOp,
  batchNormGradOp,
  batchNormGradParamsOp,
  batchNormInferenceOp,
  batchNormTrainOp,
  batchNormTrainUpdateOp,
  batchNormUpdateOp,
} from './batchnorm.js';
import { concatOp, concatSliceOp } from './concat.js';
import { conv2dOp } from './conv2d.js';
import { equalOp, greaterEqualOp, greaterOp, lessEqualOp, lessOp, notEqualOp, whereOp } from './compare.js';
import { cropFlipBackwardOp, cropFlipOp } from './crop_flip.js';
import { elementwiseOp } from './elementwise/op.js';
import { conv2dBackpropFilterOp } from './conv2d_backprop_filter.js';
import { conv2dBackpropInputOp } from './conv2d_backprop_input.js';
import { conv2dTransposeOp } from './conv_transpose.js';
import { dropoutOp } from './dropout.js';
import {
  depthwiseConv2dBackpropFilterOp,
  depthwiseConv2dBackpropInputOp,
  depthwiseConv2dOp,
} from './depthwise.js';
import { fillOp } from './fill.js';
import { gatherBackwardOp, gatherOp } from './gather.js';
import { padOp, sliceBackwardOp, sliceOp, transposeOp } from './layout.js';
import { splitAxisOp } from './split_axis.js';
import { denseOp, matmulOp } from './matmul.js';
import { ensembleCombineBackwardOp, ensembleCombineOp } from './ensemble_combine.js';
import { avgPool2dBackwardOp, avgPool2dOp, maxPool2dBackwardOp, maxPool2dOp } from './pool.js';
import {
  argmaxOp,
  argminOp,
  broadcastToOp,
  maxOp,
  meanOp,
  minOp,
  reduceMaskBackwardOp,
  sumOp,
} from './reduce.js';
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
import {
  absOp,
  clipOp,
  eluOp,
  erfOp,
  expOp,
  geluOp,
  leakyReluOp,
  logOp,
  negOp,
  reciprocalOp,
  relu6Op,
  rsqrtOp,
  sigmoidOp,
  signOp,
  siluOp,
  softplusOp,
  sqrtOp,
  squareOp,
  tanhOp,
} from './unary.js';

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
  | 'broadcastTo'
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
  | 'batchNormTrainUpdate'
  | 'batchNormGradParams'
  | 'batchNormGradInput'
  | 'batchNormGrad'
  | 'batchNormGradInputInference'
  | 'concat'
  | 'concatSlice'
  | 'cropFlip'
  | 'cropFlipBackward'
  | 'ensembleCombine'
  | 'ensembleCombineBackward'
  | 'elementwise'
  | 'neg'
  | 'abs'
  | 'sign'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'sigmoid'
  | 'tanh'
  | 'relu6'
  | 'erf'
  | 'gelu'
  | 'silu'
  | 'softplus'
  | 'leakyRelu'
  | 'elu'
  | 'clip'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'greater'
  | 'greaterEqual'
  | 'less'
  | 'lessEqual'
  | 'equal'
  | 'notEqual'
  | 'where'
  | 'max'
  | 'min'
  | 'argmax'
  | 'argmin'
  | 'reduceMaskBackward'
  | 'transpose'
  | 'slice'
  | 'sliceBackward'
  | 'splitAxis'
  | 'pad'
  | 'gather'
  | 'gatherBackward'
  | 'dropout'
  | 'conv2dTranspose'
  | 'depthwiseConv2d'
  | 'depthwiseConv2dBackpropInput'
  | 'depthwiseConv2dBackpropFilter'
  | 'batchNormFold';

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
  broadcastTo: broadcastToOp,
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
  batchNormTrainUpdate: batchNormTrainUpdateOp,
  batchNormGradParams: batchNormGradParamsOp,
  batchNormGradInput: batchNormGradInputOp,
  batchNormGrad: batchNormGradOp,
  batchNormGradInputInference: batchNormGradInputInferenceOp,
  concat: concatOp,
  concatSlice: concatSliceOp,
  cropFlip: cropFlipOp,
  cropFlipBackward: cropFlipBackwardOp,
  ensembleCombine: ensembleCombineOp,
  ensembleCombineBackward: ensembleCombineBackwardOp,
  elementwise: elementwiseOp,
  neg: negOp,
  abs: absOp,
  sign: signOp,
  exp: expOp,
  log: logOp,
  sqrt: sqrtOp,
  rsqrt: rsqrtOp,
  square: squareOp,
  reciprocal: reciprocalOp,
  sigmoid: sigmoidOp,
  tanh: tanhOp,
  relu6: relu6Op,
  erf: erfOp,
  gelu: geluOp,
  silu: siluOp,
  softplus: softplusOp,
  leakyRelu: leakyReluOp,
  elu: eluOp,
  clip: clipOp,
  div: divOp,
  pow: powOp,
  maximum: maximumOp,
  minimum: minimumOp,
  greater: greaterOp,
  greaterEqual: greaterEqualOp,
  less: lessOp,
  lessEqual: lessEqualOp,
  equal: equalOp,
  notEqual: notEqualOp,
  where: whereOp,
  max: maxOp,
  min: minOp,
  argmax: argmaxOp,
  argmin: argminOp,
  reduceMaskBackward: reduceMaskBackwardOp,
  transpose: transposeOp,
  slice: sliceOp,
  sliceBackward: sliceBackwardOp,
  splitAxis: splitAxisOp,
  pad: padOp,
  gather: gatherOp,
  gatherBackward: gatherBackwardOp,
  dropout: dropoutOp,
  conv2dTranspose: conv2dTransposeOp,
  depthwiseConv2d: depthwiseConv2dOp,
  depthwiseConv2dBackpropInput: depthwiseConv2dBackpropInputOp,
  depthwiseConv2dBackpropFilter: depthwiseConv2dBackpropFilterOp,
  batchNormFold: batchNormFoldOp,
};
