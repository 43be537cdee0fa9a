// Resolves the CLI's --dataset value: mnist, fashion-mnist, or a folder of class subfolders of images.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { decodeImageFolder, listImageFolder, type ImageFolderIndex } from '../data/folder.js';
import { loadFashionMnist, loadMnist } from '../data/mnist.js';
import { ArgumentError } from '../errors.js';
import { Rng } from '../graph/random.js';

/** Folder images are resized to the built-in datasets' size, grayscale, so the default models fit them. */
const FOLDER_IMAGE = { size: [28, 28] as [number, number], channels: 1 as const };
/** Share of a folder without train/ and test/ subfolders that is held out for testing. */
const TEST_SHARE = 0.2;

async function isFolder(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Size and channels folder images are converted to. */
export interface FolderImage {
  size: [number, number];
  channels: 1 | 3;
}

/**
 * The folder image format `train` reads from its `--image-size S` (default 28) and `--channels 1|3` (default 1)
 * flags; both apply to image folders only (mnist and fashion-mnist are 28x28 grayscale).
 */
export function folderImage(
  dataset: string,
  imageSize: number | undefined,
  channels: number | undefined,
): FolderImage {
  if (
    (dataset === 'mnist' || dataset === 'fashion-mnist') &&
    (imageSize !== undefined || channels !== undefined)
  ) {
    throw new ArgumentError(
      `--image-size and --channels apply to image folders; ${dataset} is 28x28 grayscale`,
    );
  }
  const size = imageSize ?? FOLDER_IMAGE.size[0];
  return { size: [size, size], channels: channels === 3 ? 3 : 1 };
}

/** Whether `name` is a single folder, split 80/20 by the seed (not mnist, fashion-mnist or a train/ + test/ folder). */
export async function splitsBySeed(name: string): Promise<boolean> {
  if (name === 'mnist' || name === 'fashion-mnist' || !(await isFolder(name))) return false;
  return !(await hasTrainTest(name));
}

/** Whether folder `dir` holds train/ and test/ subfolders, which the CLI uses as its splits. */
export async function hasTrainTest(dir: string): Promise<boolean> {
  return (await isFolder(join(dir, 'train'))) && (await isFolder(join(dir, 'test')));
}

/** A listed subset of a folder's images (nothing decoded). */
function subsetIndex(index: ImageFolderIndex, items: readonly number[]): ImageFolderIndex {
  return {
    ...index,
    files: items.map((i) => index.files[i]),
    labels: Int32Array.from(items, (i) => index.labels[i]),
    length: items.length,
  };
}

/** One split of a folder, listed: its train/ or test/ subfolder, or a seeded 80/20 split; `limit` keeps the first N. */
async function listFolder(
  dir: string,
  split: 'train' | 'test',
  seed: number,
  limit: number | null,
  image: FolderImage = FOLDER_IMAGE,
): Promise<ImageFolderIndex> {
  if (!(await isFolder(dir))) {
    throw new ArgumentError(`--dataset '${dir}' is neither mnist, fashion-mnist nor an existing folder`);
  }
  let index: ImageFolderIndex;
  if (await hasTrainTest(dir)) {
    index = await listImageFolder(join(dir, split), image);
    // Labels are positions in the sorted class list: the splits must list the same classes, or label 1 of test/
    // would be scored as another class than label 1 of train/.
    const other = split === 'train' ? 'test' : 'train';
    const otherClasses = (await listImageFolder(join(dir, other), image)).classes;
    if (otherClasses.join('/') !== index.classes.join('/')) {
      const [train, test] = split === 'train' ? [index.classes, otherClasses] : [otherClasses, index.classes];
      throw new ArgumentError(
        `--dataset '${dir}': train/ has the classes (${train.join(', ')}) but test/ has (${test.join(', ')}); both need the same class subfolders`,
      );
    }
  } else {
    // One folder: a seeded split, the same for train and test on every run with this seed.
    const all = await listImageFolder(dir, image);
    const order = new Rng(seed + 7).shuffle(Array.from({ length: all.length }, (_, i) => i));
    const cut = Math.max(1, Math.round(all.length * TEST_SHARE));
    index = subsetIndex(all, split === 'test' ? order.slice(0, cut) : order.slice(cut));
  }
  if (index.classes.length < 2) {
    // One class: every prediction is right, so a run would report 100% and mean nothing.
    throw new ArgumentError(
      `--dataset '${dir}' has ${index.classes.length} class subfolder (${index.classes.join(', ')}); a classifier needs at least two`,
    );
  }
  return limit !== null && limit < index.length
    ? subsetIndex(index, balancedFirst(index.labels, limit))
    : index;
}

/**
 * The first `limit` items taken class by class in turn (the first of each class, then the second, ...), in their
 * listed order: a folder lists its classes one after another, so its first N items would often be one class.
 */
function balancedFirst(labels: Int32Array, limit: number): number[] {
  const rank = new Int32Array(labels.length);
  const seen = new Map<number, number>();
  labels.forEach((label, i) => {
    rank[i] = seen.get(label) ?? 0;
    seen.set(label, rank[i] + 1);
  });
  const order = Array.from(labels, (_, i) => i).sort((a, b) => rank[a] - rank[b] || labels[a] - labels[b]);
  return order.slice(0, limit).sort((a, b) => a - b);
}

/**
 * The training split as fit streams it: mnist and fashion-mnist in memory, a folder listed only, its images
 * decoded a batch at a time in fit's workers (so a folder larger than memory trains).
 */
export async function loadTrainSource(
  name: string,
  options: { limit: number | null; seed: number; image?: FolderImage },
): Promise<Dataset | ImageFolderIndex> {
  if (name === 'mnist' || name === 'fashion-mnist') return loadDataset(name, 'train', options);
  return listFolder(name, 'train', options.seed, options.limit, options.image);
}

/**
 * Loads one split. `limit` keeps the first N images (a quick run). A folder with train/ and test/ subfolders
 * uses them; any other folder is split 80/20 with `seed`. `image` sets the size and channels of folder images
 * (default 28x28 grayscale, the built-in datasets' format).
 */
export async function loadDataset(
  name: string,
  split: 'train' | 'test',
  options: { limit: number | null; seed: number; image?: FolderImage },
): Promise<Dataset> {
  const limit = options.limit ?? undefined;
  if (name === 'mnist') return loadMnist({ split, limit });
  if (name === 'fashion-mnist') return loadFashionMnist({ split, limit });
  return decodeImageFolder(await listFolder(name, split, options.seed, options.limit, options.image));
}
