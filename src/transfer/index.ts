// The transfer namespace: freezing by depth, cached trunk activations, the head over them.
export { stagesOf, freezeTrunk, poolStage, FeatureHead, type TransferModel } from './stages.js';
export {
  cacheFeatures,
  loadFeatures,
  frozenHash,
  datasetHash,
  type CacheOptions,
  type FeatureManifest,
} from './cache.js';
