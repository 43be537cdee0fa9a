// The tta namespace: test-time augmentations (flips, five and ten crops) and predictions with them.
export {
  flips,
  fiveCrop,
  tenCrop,
  viewCount,
  viewsOf,
  expand,
  type TestTimeAugmentation,
  type CropOptions,
} from './views.js';
export { predict, predictMembers } from './predict.js';
