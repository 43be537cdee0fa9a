// Runs a checked pipeline on one batch: per-image steps with per-image seeds, then mixup/cutmix per batch.
import { Rng } from '../graph/random.js';
import type { AugmentSpec, AugmentStep } from './spec.js';
import {
  affineInverse,
  cropPadded,
  fillRect,
  flipHorizontal,
  jitter,
  warpAffine,
  type ImageShape,
} from './transforms.js';

/** Which batch: everything random in it is a function of these (never of the worker or its timing). */
export interface BatchKey {
  seed: number;
  epoch: number;
  step: number;
}

/** Where a batch's images go. Shapes: images [B*H*W*C], labels and mixLabels [B]. */
export interface BatchOut {
  images: Float32Array;
  labels: Int32Array;
  /** The second label of each image (its own label unless mixup/cutmix mixed it). */
  mixLabels: Int32Array;
}

/** A 32-bit hash of integers (murmur3's finalizer over a running mix): the seed of one image or batch. */
export function hashSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x9e3779b1) >>> 0;
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/** Gamma(a, 1) by Marsaglia and Tsang (a < 1 through Gamma(a + 1) * U^(1/a)). */
function gamma(rng: Rng, a: number): number {
  if (a < 1) return gamma(rng, a + 1) * Math.pow(1 - rng.next(), 1 / a);
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Beta(a, a). */
export function sampleBeta(rng: Rng, a: number): number {
  const x = gamma(rng, a);
  const y = gamma(rng, a);
  return x / (x + y);
}

const uniform = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng.next();

/**
 * One per-image step with its random parameters drawn from `rng`. Returns true when it wrote `dst` (the caller
 * swaps buffers), false when it changed `src` in place or left it alone.
 */
function imageStep(
  step: AugmentStep,
  rng: Rng,
  shape: ImageShape,
  src: Float32Array,
  dst: Float32Array,
): boolean {
  switch (step.kind) {
    case 'crop': {
      const pad = step.pad ?? 4;
      const dy = rng.int(2 * pad + 1);
      const dx = rng.int(2 * pad + 1);
      cropPadded(src, dst, shape, pad, step.mode ?? 'zero', dy, dx);
      return true;
    }
    case 'flip':
      if (rng.next() >= (step.p ?? 0.5)) return false;
      flipHorizontal(src, dst, shape);
      return true;
    case 'affine': {
      const degrees = step.degrees ?? 0;
      const translate = step.translate ?? 0;
      const [s0, s1] = step.scale ?? [1, 1];
      const shear = step.shear ?? 0;
      const params = {
        angle: uniform(rng, -degrees, degrees),
        tx: uniform(rng, -translate, translate) * shape.w,
        ty: uniform(rng, -translate, translate) * shape.h,
        scale: uniform(rng, s0, s1),
        shear: uniform(rng, -shear, shear),
      };
      warpAffine(src, dst, shape, affineInverse(params, shape.h, shape.w), step.fill ?? 0);
      return true;
    }
    case 'jitter': {
      const b = step.brightness ?? 0;
      const c = step.contrast ?? 0;
      jitter(src, uniform(rng, 1 - b, 1 + b), uniform(rng, 1 - c, 1 + c));
      return false;
    }
    case 'erase': {
      if (rng.next() >= (step.p ?? 0.5)) return false;
      const [a0, a1] = step.scale ?? [0.02, 0.33];
      const [r0, r1] = step.ratio ?? [0.3, 3.3];
      const area = shape.h * shape.w;
      // As torchvision: up to 10 tries for a box that fits, else leave the image alone.
      for (let attempt = 0; attempt < 10; attempt++) {
        const target = area * uniform(rng, a0, a1);
        const ratio = Math.exp(uniform(rng, Math.log(r0), Math.log(r1)));
        const eh = Math.round(Math.sqrt(target * ratio));
        const ew = Math.round(Math.sqrt(target / ratio));
        if (eh < 1 || ew < 1 || eh > shape.h || ew > shape.w) continue;
        fillRect(src, shape, rng.int(shape.h - eh + 1), rng.int(shape.w - ew + 1), eh, ew, step.value ?? 0);
        break;
      }
      return false;
    }
    case 'cutout': {
      if (rng.next() >= (step.p ?? 1)) return false;
      const size = step.size ?? 8;
      const cy = rng.int(shape.h);
      const cx = rng.int(shape.w);
      const half = Math.floor(size / 2);
      fillRect(src, shape, cy - half, cx - half, size, size, step.value ?? 0);
      return false;
    }
    default:
      return false;
  }
}

/** A pipeline prepared for one image shape and batch size, with its scratch buffers. */
export class Augmenter {
  private readonly perImage: AugmentStep[];
  private readonly mixers: AugmentStep[];
  private readonly scratch: [Float32Array, Float32Array];
  private batchCopy: Float32Array | null = null;
  readonly per: number;

  constructor(
    spec: AugmentSpec,
    readonly shape: ImageShape,
  ) {
    this.perImage = spec.filter((s) => s.kind !== 'mixup' && s.kind !== 'cutmix');
    this.mixers = spec.filter((s) => s.kind === 'mixup' || s.kind === 'cutmix');
    this.per = shape.h * shape.w * shape.c;
    this.scratch = [new Float32Array(this.per), new Float32Array(this.per)];
  }

  /**
   * Augments image `b` of the batch in place in `out.images` (already holding the source image there); its
   * random draws come from (key, b) alone.
   */
  image(out: BatchOut, b: number, key: BatchKey): void {
    if (this.perImage.length === 0) return;
    const rng = new Rng(hashSeed(key.seed, key.epoch, key.step, b));
    const view = out.images.subarray(b * this.per, (b + 1) * this.per);
    let [cur, next] = this.scratch;
    cur.set(view);
    for (const step of this.perImage) {
      if (imageStep(step, rng, this.shape, cur, next)) [cur, next] = [next, cur];
    }
    view.set(cur);
  }

  /**
   * Mixup or cutmix over the first `size` images, when the spec has them (one chosen per batch if both). Returns
   * the weight l of the first labels (1 when nothing was mixed): loss = l CE(labels) + (1 - l) CE(mixLabels).
   */
  mix(out: BatchOut, size: number, key: BatchKey): number {
    out.mixLabels.set(out.labels.subarray(0, size));
    if (this.mixers.length === 0 || size < 2) return 1;
    const rng = new Rng(hashSeed(key.seed, key.epoch, key.step, -1));
    const step = this.mixers[this.mixers.length === 1 ? 0 : rng.int(this.mixers.length)];
    const alpha = (step as { alpha?: number }).alpha ?? 1;
    const perm = rng.shuffle(Array.from({ length: size }, (_, i) => i));
    let lambda = sampleBeta(rng, alpha);
    const n = size * this.per;
    if (!this.batchCopy || this.batchCopy.length < n) this.batchCopy = new Float32Array(n);
    const orig = this.batchCopy;
    orig.set(out.images.subarray(0, n));
    const { h, w, c } = this.shape;
    if (step.kind === 'mixup') {
      for (let b = 0; b < size; b++) {
        const o = b * this.per;
        const p = perm[b] * this.per;
        for (let i = 0; i < this.per; i++)
          out.images[o + i] = lambda * orig[o + i] + (1 - lambda) * orig[p + i];
      }
    } else {
      // The box covers a (1 - lambda) share; lambda then becomes the share actually kept, after clipping.
      const cutH = Math.floor(h * Math.sqrt(1 - lambda));
      const cutW = Math.floor(w * Math.sqrt(1 - lambda));
      const cy = rng.int(h);
      const cx = rng.int(w);
      const y0 = Math.max(0, cy - Math.floor(cutH / 2));
      const y1 = Math.min(h, cy + Math.ceil(cutH / 2));
      const x0 = Math.max(0, cx - Math.floor(cutW / 2));
      const x1 = Math.min(w, cx + Math.ceil(cutW / 2));
      for (let b = 0; b < size; b++) {
        const o = b * this.per;
        const p = perm[b] * this.per;
        for (let y = y0; y < y1; y++) {
          const row = (y * w + x0) * c;
          out.images.set(orig.subarray(p + row, p + (y * w + x1) * c), o + row);
        }
      }
      lambda = 1 - ((y1 - y0) * (x1 - x0)) / (h * w);
    }
    for (let b = 0; b < size; b++) out.mixLabels[b] = out.labels[perm[b]];
    return lambda;
  }
}
