// Rebuilds a zoo model from its stored config (checkpoints, the transfer command).
import { ArgumentError } from '../errors.js';
import { googlenet } from './googlenet.js';
import { ZOO_ARCHS, type ZooConfig, type ZooModel } from './model.js';
import { resnet18, resnet34, resnet50 } from './resnet.js';

const BUILDERS = { resnet18, resnet34, resnet50, googlenet } as const;

/** The zoo model a config describes; ArgumentError for an unknown architecture. */
export function buildZoo(config: ZooConfig): ZooModel {
  if (!ZOO_ARCHS.includes(config.arch)) {
    throw new ArgumentError(
      `zoo: unknown architecture '${String(config.arch)}' (expected one of ${ZOO_ARCHS.join(', ')})`,
    );
  }
  const { classes, inputShape, seed, dropout } = config;
  // Configs stored before GoogLeNet had its dropout name none: they get the default, torchvision's 0.2.
  return BUILDERS[config.arch]({ classes, inputShape, seed, ...(dropout === undefined ? {} : { dropout }) });
}
