// The nn namespace: module base, layers, blocks, models.
export { Module, type StateValue } from './module.js';
export {
  Conv2d,
  BatchNorm2d,
  Dense,
  ReLU,
  MaxPool2d,
  AvgPool2d,
  GlobalAvgPool,
  Flatten,
  Sequential,
  type Conv2dOptions,
  type BatchNormOptions,
  type PoolOptions,
} from './layers.js';
export {
  Dropout,
  ReLU6,
  DepthwiseConv2d,
  LayerNorm,
  GroupNorm,
  type DepthwiseConv2dOptions,
} from './layers_extra.js';
export { ConvBN, ResidualBlock, InceptionBlock, type InceptionWidths } from './blocks.js';
export {
  Network,
  resnet,
  inception,
  buildModel,
  RESNET_DEFAULTS,
  INCEPTION_DEFAULTS,
  type ResNetConfig,
  type InceptionConfig,
  type ModelConfig,
} from './models.js';
export { heNormal, glorotUniform } from './init.js';
