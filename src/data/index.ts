// Datasets: MNIST, Fashion-MNIST, image folders, normalization and seeded mini-batches.
export {
  batches,
  batchIndices,
  gatherBatch,
  channelStats,
  normalize,
  type Dataset,
  type Batch,
  type BatchOptions,
} from './dataset.js';
export { parseIdx } from './idx.js';
export { loadMnist, loadFashionMnist, FASHION_MNIST_CLASSES, type MnistOptions } from './mnist.js';
export {
  loadImageFolder,
  listImageFolder,
  resizeBilinear,
  type ImageFolderIndex,
  type ImageFolderOptions,
  type Rgba,
} from './folder.js';
