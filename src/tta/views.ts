// Test-time augmentations as view lists: flips, five and ten crops (torchvision's geometry), from padded images.
import { ArgumentError, ShapeError } from '../errors.js';
import type { Tensor } from '../graph/tensor.js';
import { cropFlip, type CropView } from '../ops/crop_flip.js';
import { COMBINE_MODES, type CombineMode } from '../ops/ensemble_combine.js';
import { checkOptionKeys } from '../options.js';

/** A test-time augmentation: which views of each image to predict, and how their predictions are combined. */
export interface TestTimeAugmentation {
  readonly kind: 'flips' | 'fiveCrop' | 'tenCrop';
  /** [OH, OW] of the crops; null keeps the image size (flips). */
  readonly size: readonly [number, number] | null;
  /** Zero pixels added on every side before cropping. */
  readonly pad: number;
  /** How one model's predictions of the views of an image are combined (default 'mean-prob'). */
  readonly combine: CombineMode;
}

export interface CropOptions {
  /** Zero padding on every side before cropping (default 0): pad 2 and crop 28 gives shifted 28x28 digits. */
  pad?: number;
  combine?: CombineMode;
}

function checkCombine(owner: string, combine: CombineMode): CombineMode {
  if (!COMBINE_MODES.includes(combine)) {
    throw new ArgumentError(
      `${owner}: 'combine' must be one of ${COMBINE_MODES.join(', ')}, got '${String(combine)}'`,
    );
  }
  return combine;
}

function crops(kind: 'fiveCrop' | 'tenCrop', size: number | readonly [number, number], options: CropOptions) {
  checkOptionKeys(kind, options, ['pad', 'combine']);
  const pair = typeof size === 'number' ? [size, size] : Array.isArray(size) ? [...size] : [];
  if (pair.length !== 2 || !pair.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(
      `${kind}: 'size' must be an integer >= 1 or [height, width] of them, got ${String(size)}`,
    );
  }
  const pad = options.pad ?? 0;
  if (!Number.isInteger(pad) || pad < 0)
    throw new ArgumentError(`${kind}: 'pad' must be an integer >= 0, got ${pad}`);
  const combine = checkCombine(kind, options.combine ?? 'mean-prob');
  return { kind, size: [pair[0], pair[1]] as const, pad, combine };
}

/** The image and its left-right mirror. */
export function flips(options: { combine?: CombineMode } = {}): TestTimeAugmentation {
  checkOptionKeys('flips', options, ['combine']);
  return {
    kind: 'flips',
    size: null,
    pad: 0,
    combine: checkCombine('flips', options.combine ?? 'mean-prob'),
  };
}

/**
 * The four corner crops and the centre crop of the (padded) image, in torchvision's FiveCrop order: top-left,
 * top-right, bottom-left, bottom-right, centre (centre offsets rounded half to even, as Python's round).
 */
export function fiveCrop(
  size: number | readonly [number, number],
  options: CropOptions = {},
): TestTimeAugmentation {
  return crops('fiveCrop', size, options);
}

/** fiveCrop's five crops, then the same five of the mirrored image: torchvision's TenCrop (vertical_flip=False). */
export function tenCrop(
  size: number | readonly [number, number],
  options: CropOptions = {},
): TestTimeAugmentation {
  return crops('tenCrop', size, options);
}

const VIEWS = { flips: 2, fiveCrop: 5, tenCrop: 10 } as const;

/** Number of views per image. */
export function viewCount(t: TestTimeAugmentation): number {
  if (!t || !Object.hasOwn(VIEWS, t.kind)) {
    throw new ArgumentError(
      `tta: expected an augmentation from flips(), fiveCrop() or tenCrop(), got ${JSON.stringify(t)}`,
    );
  }
  return VIEWS[t.kind];
}

/** Python's round() of a multiple of 0.5: halves go to the even neighbour. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  if (v - f !== 0.5) return Math.round(v);
  return f % 2 === 0 ? f : f + 1;
}

/** The views of an H x W image (coordinates in the padded image), with the crop size and padding. */
export function viewsOf(
  t: TestTimeAugmentation,
  height: number,
  width: number,
): { views: CropView[]; size: [number, number]; pad: number } {
  viewCount(t);
  if (t.size === null) {
    return { views: [false, true].map((flip) => ({ top: 0, left: 0, flip })), size: [height, width], pad: 0 };
  }
  const [ch, cw] = t.size;
  const ph = height + 2 * t.pad;
  const pw = width + 2 * t.pad;
  if (ch > ph || cw > pw) {
    throw new ShapeError(
      `${t.kind}: the ${ch}x${cw} crop is larger than the ${height}x${width} image padded by ${t.pad} (${ph}x${pw})`,
    );
  }
  const five = (flip: boolean): CropView[] => [
    { top: 0, left: 0, flip },
    { top: 0, left: pw - cw, flip },
    { top: ph - ch, left: 0, flip },
    { top: ph - ch, left: pw - cw, flip },
    { top: roundHalfEven((ph - ch) / 2), left: roundHalfEven((pw - cw) / 2), flip },
  ];
  const views = t.kind === 'tenCrop' ? [...five(false), ...five(true)] : five(false);
  return { views, size: [ch, cw], pad: t.pad };
}

/**
 * Every view of every image as one larger batch, made on the GPU by cropFlip.
 * Shapes: x [N,H,W,C] → [V*N, OH, OW, C], view-major (rows v*N .. v*N+N-1 are view v).
 */
export function expand(x: Tensor, t: TestTimeAugmentation): Tensor {
  if (x.rank !== 4) throw new ShapeError(`${t.kind}: argument 'x' must be NHWC, got rank ${x.rank}`);
  const { views, size, pad } = viewsOf(t, x.shape[1], x.shape[2]);
  return cropFlip(x, views, { size, pad });
}
