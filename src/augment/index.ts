// Data augmentation: specs and presets, transforms, and the batch loader with its worker threads.
/**
 * Data augmentation, a subpath of its own: `import * as augment from 'webgrad/augment'`.
 * @module webgrad/augment
 */
export {
  PRESETS,
  parseSpec,
  checkSpec,
  resolveSpec,
  type AugmentSpec,
  type AugmentStep,
  type CropStep,
  type FlipStep,
  type AffineStep,
  type JitterStep,
  type EraseStep,
  type CutoutStep,
  type MixupStep,
  type CutmixStep,
} from './spec.js';
export { BatchLoader, type LoaderOptions, type HostBatch } from './loader.js';
export { Augmenter, hashSeed, type BatchKey, type BatchOut } from './pipeline.js';
export { defaultWorkers } from './pool.js';
