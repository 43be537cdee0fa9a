// Image-folder datasets: one subfolder per class of PNG/JPEG files, listed (streamed) or decoded and resized bilinearly.
import { ArgumentError, FileError, FormatError, fileError } from '../errors.js';
import { checkInteger, checkOptionKeys } from '../options.js';
import type { Dataset } from './dataset.js';
import { readBytes } from './node.js';
import { requireNode } from '../platform.js';

export interface ImageFolderOptions {
  /** [H, W] every image is resized to. */
  size: [number, number];
  /** 1 for grayscale (luma 0.299 R + 0.587 G + 0.114 B, as PIL's 'L'), 3 for RGB. Alpha is dropped. */
  channels: 1 | 3;
}

/** A decoded image: RGBA bytes, row-major. */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

const IMAGE_FILE = /\.(png|jpe?g)$/i;

/** Decodes PNG or JPEG by content (not by file name); FormatError naming the file otherwise. */
export async function decodeImage(bytes: Uint8Array, path: string): Promise<Rgba> {
  const isPng =
    bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  try {
    if (isPng) {
      const { PNG } = await import('pngjs');
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: png.data };
    }
    if (isJpeg) {
      const jpeg = await import('jpeg-js');
      return jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    }
  } catch (e) {
    throw new FormatError(`${path}: cannot decode ${isPng ? 'PNG' : 'JPEG'} (${(e as Error).message})`);
  }
  throw new FormatError(`${path}: not a PNG or JPEG file (unrecognized signature)`);
}

/**
 * Converts RGBA bytes to `channels` floats in [0, 1] and resizes to [h, w] with bilinear interpolation on
 * half-pixel centers (PyTorch's align_corners=False, TensorFlow's half_pixel_centers), edges clamped.
 * Downscaling does not antialias. Writes h*w*channels values into `out` at `offset`.
 */
export function resizeBilinear(
  img: Rgba,
  h: number,
  w: number,
  channels: 1 | 3,
  out: Float32Array,
  offset: number,
): void {
  const src = new Float32Array(img.width * img.height * channels);
  for (let p = 0; p < img.width * img.height; p++) {
    const [r, g, b] = [img.data[4 * p], img.data[4 * p + 1], img.data[4 * p + 2]];
    if (channels === 1) src[p] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    else for (let c = 0; c < 3; c++) src[3 * p + c] = img.data[4 * p + c] / 255;
  }
  const axis = (outSize: number, inSize: number) =>
    Array.from({ length: outSize }, (_, o) => {
      const x = Math.min(Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
      const lo = Math.floor(x);
      return { lo, hi: Math.min(lo + 1, inSize - 1), t: x - lo };
    });
  const ys = axis(h, img.height);
  const xs = axis(w, img.width);
  for (let oy = 0; oy < h; oy++) {
    const { lo: y0, hi: y1, t: ty } = ys[oy];
    for (let ox = 0; ox < w; ox++) {
      const { lo: x0, hi: x1, t: tx } = xs[ox];
      for (let c = 0; c < channels; c++) {
        const at = (y: number, x: number) => src[(y * img.width + x) * channels + c];
        const top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * tx;
        const bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * tx;
        out[offset + (oy * w + ox) * channels + c] = top + (bottom - top) * ty;
      }
    }
  }
}

/**
 * An image folder listed but not decoded: what a streamed training run reads, a batch at a time, in its workers
 * (`fit(model, await listImageFolder(dir, options), { workers })`), so a folder larger than memory trains.
 * Shapes: files and labels [N]; `shape` is [H, W, C] of the decoded images.
 */
export interface ImageFolderIndex {
  kind: 'folder';
  files: string[];
  labels: Int32Array;
  shape: [number, number, number];
  classes: string[];
  length: number;
}

/**
 * Lists `dir/<class>/<image>` for every class subfolder (classes sorted by name, files sorted by name; files other
 * than .png/.jpg/.jpeg are ignored), decoding nothing. Errors: FileError for a missing or unreadable folder, ArgumentError for bad options,
 * FormatError when there are no images. Node only.
 */
export async function listImageFolder(dir: string, options: ImageFolderOptions): Promise<ImageFolderIndex> {
  requireNode('listImageFolder');
  checkOptionKeys('loadImageFolder', options, ['size', 'channels']);
  if (!Array.isArray(options.size) || options.size.length !== 2) {
    throw new ArgumentError(
      `loadImageFolder: option 'size' must be [H, W], got ${JSON.stringify(options.size) ?? String(options.size)}`,
    );
  }
  const [h, w] = options.size;
  checkInteger('loadImageFolder', 'size[0]', h, 1);
  checkInteger('loadImageFolder', 'size[1]', w, 1);
  const channels = options.channels;
  if (channels !== 1 && channels !== 3) {
    throw new ArgumentError(`loadImageFolder: 'channels' must be 1 or 3, got ${String(channels)}`);
  }
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  const list = async (path: string) => {
    try {
      return await fs.readdir(path, { withFileTypes: true });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string') throw e;
      const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : null;
      if (why === null) throw fileError('loadImageFolder', path, e);
      throw new FileError(`loadImageFolder: folder '${path}' ${why} (${code})`, path, code, { cause: e });
    }
  };
  const byName = (a: { name: string }, b: { name: string }) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  const classes = (await list(dir))
    .filter((e) => e.isDirectory())
    .sort(byName)
    .map((e) => e.name);
  const files: string[] = [];
  const labels: number[] = [];
  for (const [label, name] of classes.entries()) {
    for (const e of (await list(join(dir, name))).sort(byName)) {
      if (e.isFile() && IMAGE_FILE.test(e.name)) {
        files.push(join(dir, name, e.name));
        labels.push(label);
      }
    }
  }
  if (files.length === 0) {
    throw new FormatError(
      `loadImageFolder: no .png/.jpg/.jpeg images in class subfolders of '${dir}' (found ${classes.length} subfolders)`,
    );
  }
  return {
    kind: 'folder',
    files,
    labels: Int32Array.from(labels),
    shape: [h, w, channels],
    classes,
    length: files.length,
  };
}

/** Reads, decodes, converts and resizes one listed image into `out` at `offset` (FormatError naming the file). */
export async function readFolderImage(
  index: ImageFolderIndex,
  item: number,
  out: Float32Array,
  offset: number,
): Promise<void> {
  const [h, w, channels] = index.shape;
  const path = index.files[item];
  let bytes: Uint8Array;
  try {
    bytes = await readBytes(path);
  } catch (e) {
    throw fileError('loadImageFolder', path, e);
  }
  resizeBilinear(await decodeImage(bytes, path), h, w, channels as 1 | 3, out, offset);
}

/**
 * Loads `dir/<class>/<image>` for every class subfolder (classes sorted by name, files sorted by name; files
 * other than .png/.jpg/.jpeg are ignored). Each image is decoded, converted to `channels` and resized to
 * `size`. Errors: FileError for a missing or unreadable folder or file, ArgumentError for bad options, FormatError when there are no images or a file cannot be
 * decoded (naming the file). Node only.
 * Shapes: images [N, H, W, C], labels [N].
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions): Promise<Dataset> {
  requireNode('loadImageFolder');
  return decodeImageFolder(await listImageFolder(dir, options));
}

/** Decodes every image of a listed folder into memory. Shapes: images [N, H, W, C], labels [N]. */
export async function decodeImageFolder(index: ImageFolderIndex): Promise<Dataset> {
  const per = index.shape[0] * index.shape[1] * index.shape[2];
  const images = new Float32Array(index.length * per);
  for (let i = 0; i < index.length; i++) await readFolderImage(index, i, images, i * per);
  const { labels, shape, classes, length } = index;
  return { images, labels, shape, classes, length };
}
