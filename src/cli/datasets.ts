// Resolves the CLI's --dataset value: mnist, fashion-mnist, or a folder of class subfolders of images.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { loadImageFolder } from '../data/folder.js';
import { loadFashionMnist, loadMnist } from '../data/mnist.js';
import { ArgumentError } from '../errors.js';
import { Rng } from '../graph/random.js';

/** Folder images are resized to the built-in datasets' size, grayscale, so the default models fit them. */
const FOLDER_IMAGE = { size: [28, 28] as [number, number], channels: 1 as const };
/** Share of a folder without train/ and test/ subfolders that is held out for testing. */
const TEST_SHARE = 0.2;

function subset(ds: Dataset, indices: readonly number[]): Dataset {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  indices.forEach((src, i) => {
    images.set(ds.images.subarray(src * per, (src + 1) * per), i * per);
    labels[i] = ds.labels[src];
  });
  return { ...ds, images, labels, length: indices.length };
}

async function isFolder(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function loadFolder(dir: string, split: 'train' | 'test', seed: number): Promise<Dataset> {
  if (!(await isFolder(dir))) {
    throw new ArgumentError(`--dataset '${dir}' is neither mnist, fashion-mnist nor an existing folder`);
  }
  if ((await isFolder(join(dir, 'train'))) && (await isFolder(join(dir, 'test')))) {
    return loadImageFolder(join(dir, split), FOLDER_IMAGE);
  }
  // One folder: a seeded split, the same for train and test on every run with this seed.
  const all = await loadImageFolder(dir, FOLDER_IMAGE);
  const order = new Rng(seed + 7).shuffle(Array.from({ length: all.length }, (_, i) => i));
  const cut = Math.max(1, Math.round(all.length * TEST_SHARE));
  return subset(all, split === 'test' ? order.slice(0, cut) : order.slice(cut));
}

/** Whether `name` is a single folder, which the CLI splits 80/20 by seed (mnist, fashion-mnist and train/ + test/
 * folders have fixed splits). */
export async function splitsBySeed(name: string): Promise<boolean> {
  if (name === 'mnist' || name === 'fashion-mnist' || !(await isFolder(name))) return false;
  return !((await isFolder(join(name, 'train'))) && (await isFolder(join(name, 'test'))));
}

/**
 * Loads one split. `limit` keeps the first N images (a quick run). A folder with train/ and test/ subfolders
 * uses them; any other folder is split 80/20 with `seed`.
 */
export async function loadDataset(
  name: string,
  split: 'train' | 'test',
  options: { limit: number | null; seed: number },
): Promise<Dataset> {
  const limit = options.limit ?? undefined;
  if (name === 'mnist') return loadMnist({ split, limit });
  if (name === 'fashion-mnist') return loadFashionMnist({ split, limit });
  const ds = await loadFolder(name, split, options.seed);
  if (ds.classes.length < 2) {
    // One class: every prediction is right, so a run would report 100% and mean nothing.
    throw new ArgumentError(
      `--dataset '${name}' has ${ds.classes.length} class subfolder (${ds.classes.join(', ')}); a classifier needs at least two`,
    );
  }
  return limit !== undefined && limit < ds.length
    ? subset(
        ds,
        Array.from({ length: limit }, (_, i) => i),
      )
    : ds;
}
