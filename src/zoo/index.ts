// The zoo namespace: torchvision architectures under their own names and keys.
export { resnet18, resnet34, resnet50, ResNet } from './resnet.js';
export { googlenet, GoogLeNet } from './googlenet.js';
export { ZooModel, ZOO_ARCHS, type ZooArch, type ZooConfig, type ZooOptions, type Stage } from './model.js';
export { TorchBatchNorm2d } from './layers.js';
export { buildZoo } from './build.js';
