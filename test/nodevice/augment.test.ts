// Augmentation transforms against float64 oracles, their random draws, the spec parser and presets (no device).
import { describe, expect, it } from 'vitest';
import { Augmenter, hashSeed, sampleBeta, type BatchOut } from '../../src/augment/pipeline.js';
import { PRESETS, parseSpec, resolveSpec } from '../../src/augment/spec.js';
import {
  affineInverse,
  cropPadded,
  fillRect,
  flipHorizontal,
  jitter,
  warpAffine,
} from '../../src/augment/transforms.js';
import { ArgumentError, Rng } from '../../src/index.js';
import { expectClose, seeded } from '../helpers.js';
import { refAffine, refCrop, refFlip } from './augment_reference.js';

const F32 = { atol: 1e-6, rtol: 1e-6 };

describe('transforms at known parameters', () => {
  const [h, w, c] = [5, 7, 3];
  const img = seeded(h * w * c, 3);
  const shape = { h, w, c };

  it('crop: every offset, zero and reflect padding, equals slicing the explicitly padded image', () => {
    for (const mode of ['zero', 'reflect'] as const) {
      for (const pad of [1, 3]) {
        for (let dy = 0; dy <= 2 * pad; dy++) {
          for (let dx = 0; dx <= 2 * pad; dx++) {
            const out = new Float32Array(img.length).fill(NaN);
            cropPadded(img, out, shape, pad, mode, dy, dx);
            expect(Array.from(out)).toEqual(
              Array.from(refCrop(img, h, w, c, pad, mode, dy, dx), Math.fround),
            );
          }
        }
      }
    }
  });

  it('crop at the center offset is the identity; flip is the mirror and twice the identity', () => {
    const out = new Float32Array(img.length);
    cropPadded(img, out, shape, 2, 'reflect', 2, 2);
    expect(out).toEqual(img);
    const once = new Float32Array(img.length);
    const twice = new Float32Array(img.length);
    flipHorizontal(img, once, shape);
    expect(Array.from(once)).toEqual(Array.from(refFlip(img, h, w, c), Math.fround));
    flipHorizontal(once, twice, shape);
    expect(twice).toEqual(img);
  });

  it('affine: the identity matrix copies exactly', () => {
    const out = new Float32Array(img.length).fill(NaN);
    warpAffine(img, out, shape, affineInverse({ angle: 0, tx: 0, ty: 0, scale: 1, shear: 0 }, h, w), 0.5);
    expect(out).toEqual(img);
  });

  it('affine: integer shifts move pixels and fill what comes in', () => {
    const out = new Float32Array(img.length);
    warpAffine(img, out, shape, affineInverse({ angle: 0, tx: 2, ty: -1, scale: 1, shear: 0 }, h, w), -3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) {
          const [sy, sx] = [y + 1, x - 2];
          const want = sy < h && sx >= 0 ? img[(sy * w + sx) * c + k] : -3;
          expect(out[(y * w + x) * c + k]).toBe(want);
        }
  });

  it('affine: a quarter turn of a square image is the exact rotation of the pixel grid', () => {
    const n = 4;
    const sq = seeded(n * n, 9);
    const out = new Float32Array(n * n);
    warpAffine(
      sq,
      out,
      { h: n, w: n, c: 1 },
      affineInverse({ angle: 90, tx: 0, ty: 0, scale: 1, shear: 0 }, n, n),
      0,
    );
    // Counter-clockwise on screen: the top row becomes the left column, read bottom to top.
    const want = new Float32Array(n * n);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) want[(n - 1 - x) * n + y] = sq[y * n + x];
    expectClose(out, want, { atol: 1e-6, rtol: 0 }, 'rot90');
  });

  it('affine: rotation, shear, scale and translation at known values match the float64 oracle', () => {
    const cases = [
      { angle: 17, tx: 0.3, ty: -0.7, scale: 1.1, shear: 0 },
      { angle: -33, tx: -1.2, ty: 0.4, scale: 0.8, shear: 12 },
      { angle: 0, tx: 0.5, ty: 0.5, scale: 1, shear: 0 },
      { angle: 5, tx: 0, ty: 0, scale: 2.5, shear: -20 },
    ];
    for (const p of cases) {
      const out = new Float32Array(img.length);
      warpAffine(img, out, shape, affineInverse(p, h, w), 0.25);
      expectClose(out, refAffine(img, h, w, c, p, 0.25), F32, JSON.stringify(p));
    }
  });

  it('jitter scales brightness, then stretches about the mean; fillRect clips to the image', () => {
    const x = Float32Array.from([0.1, 0.2, 0.3, 0.6]);
    jitter(x, 2, 0.5);
    // after brightness 2: [0.2, 0.4, 0.6, 1.2], mean 0.6
    expectClose(x, [0.4, 0.5, 0.6, 0.9], { atol: 1e-6, rtol: 0 }, 'jitter');
    const r = new Float32Array(3 * 4).fill(1);
    fillRect(r, { h: 3, w: 4, c: 1 }, -1, 2, 3, 5, 0);
    expect(Array.from(r)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1]);
  });
});

function batchOut(b: number, per: number): BatchOut {
  return { images: new Float32Array(b * per), labels: new Int32Array(b), mixLabels: new Int32Array(b) };
}

describe('random draws', () => {
  it('the same (seed, epoch, step, image) gives the same result; another key another one', () => {
    const shape = { h: 8, w: 8, c: 1 };
    const aug = new Augmenter(
      resolveSpec('crop:pad=2;flip;affine:degrees=20,scale=0.9..1.1;jitter:brightness=0.2;erase:p=1'),
      shape,
    );
    const src = seeded(64, 5);
    const run = (seed: number, epoch: number, step: number, b: number) => {
      const out = batchOut(b + 1, 64);
      out.images.set(src, b * 64);
      aug.image(out, b, { seed, epoch, step });
      return Array.from(out.images.subarray(b * 64));
    };
    expect(run(1, 2, 3, 0)).toEqual(run(1, 2, 3, 0));
    for (const other of [run(2, 2, 3, 0), run(1, 3, 3, 0), run(1, 2, 4, 0), run(1, 2, 3, 1)])
      expect(other).not.toEqual(run(1, 2, 3, 0));
  });

  it('crop offsets cover [0, 2*pad] uniformly; flip happens with its probability', () => {
    const n = 9;
    const shape = { h: n, w: n, c: 1 };
    const src = Float32Array.from({ length: n * n }, (_, i) => i + 1);
    const center = 4 * n + 4;
    const crop = new Augmenter(resolveSpec('crop:pad=2'), shape);
    const flip = new Augmenter(resolveSpec('flip:p=0.25'), shape);
    const counts = new Map<string, number>();
    let flips = 0;
    const trials = 5000;
    for (let s = 0; s < trials; s++) {
      const out = batchOut(1, n * n);
      out.images.set(src);
      crop.image(out, 0, { seed: 0, epoch: 1, step: s });
      // The center pixel lands at (4 + pad - dy, 4 + pad - dx).
      const at = out.images.indexOf(src[center]);
      const key = `${6 - Math.floor(at / n)},${6 - (at % n)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const f = batchOut(1, n * n);
      f.images.set(src);
      flip.image(f, 0, { seed: 0, epoch: 1, step: s });
      if (f.images[0] === n) flips++;
    }
    expect(counts.size).toBe(25);
    for (let dy = 0; dy <= 4; dy++)
      for (let dx = 0; dx <= 4; dx++) expect(counts.get(`${dy},${dx}`)).toBeGreaterThan(trials / 25 - 70);
    expect(flips / trials).toBeGreaterThan(0.22);
    expect(flips / trials).toBeLessThan(0.28);
  });

  it('Beta(a, a) has mean 1/2 and variance 1 / (4 (2a + 1))', () => {
    for (const a of [0.2, 1, 3]) {
      const rng = new Rng(hashSeed(7, a * 10));
      const xs = Array.from({ length: 20000 }, () => sampleBeta(rng, a));
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
      expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
      expect(Math.abs(variance - 1 / (4 * (2 * a + 1)))).toBeLessThan(0.01);
    }
  });

  it('mixup blends two images with weight lambda; cutmix pastes a box and lambda is the share kept', () => {
    const per = 16;
    const shape = { h: 4, w: 4, c: 1 };
    for (const kind of ['mixup', 'cutmix']) {
      const aug = new Augmenter(resolveSpec(`${kind}:alpha=1`), shape);
      const out = batchOut(4, per);
      for (let b = 0; b < 4; b++) {
        out.images.fill(b, b * per, (b + 1) * per);
        out.labels[b] = 10 + b;
      }
      const lambda = aug.mix(out, 4, { seed: 3, epoch: 1, step: 0 });
      expect(lambda).toBeGreaterThanOrEqual(0);
      expect(lambda).toBeLessThanOrEqual(1);
      for (let b = 0; b < 4; b++) {
        const partner = out.mixLabels[b] - 10;
        const img = out.images.subarray(b * per, (b + 1) * per);
        if (kind === 'mixup') {
          for (const v of img) expect(v).toBeCloseTo(lambda * b + (1 - lambda) * partner, 5);
        } else {
          const kept = img.filter((v) => v === b).length;
          if (partner !== b) expect(kept / per).toBeCloseTo(lambda, 10);
          expect(img.every((v) => v === b || v === partner)).toBe(true);
        }
      }
    }
  });
});

describe('specs', () => {
  it('presets and the text form parse to checked steps', () => {
    expect(parseSpec('standard')).toEqual(PRESETS.standard);
    expect(parseSpec('digits')).toEqual(PRESETS.digits);
    expect(parseSpec('digits; erase:p=0.25 ; mixup:alpha=0.2')).toEqual([
      ...PRESETS.digits,
      { kind: 'erase', p: 0.25 },
      { kind: 'mixup', alpha: 0.2 },
    ]);
    expect(parseSpec('crop:pad=4,mode=reflect+affine:scale=0.8..1.2,degrees=15')).toEqual([
      { kind: 'crop', pad: 4, mode: 'reflect' },
      { kind: 'affine', scale: [0.8, 1.2], degrees: 15 },
    ]);
  });

  it('bad specs name the step and the parameter', () => {
    const cases: [string, RegExp][] = [
      ['blur', /step 0: 'blur' is neither a preset/],
      ['flip:p=2', /step 0 \(flip\): 'p' must be a number >= 0 and <= 1, got 2/],
      ['crop:pad=x', /'pad=x' is not a number/],
      ['standard;affine:spin=3', /step 1 \(affine\): unknown parameter 'spin'/],
      ['affine:scale=1.2..0.8', /'scale' must be \[lo, hi\]/],
      ['crop:pad=1.5', /'pad' must be an integer/],
      ['crop:mode=wrap', /'mode' must be 'zero' or 'reflect'/],
      ['', /expected a preset or steps/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseSpec(text), text).toThrow(ArgumentError);
      expect(() => parseSpec(text), text).toThrow(message);
    }
    expect(() => resolveSpec([{ kind: 'crop', pad: 8, mode: 'reflect' }], [8, 8, 1])).toThrow(
      /reflect padding 8 needs images larger/,
    );
    expect(() => resolveSpec([{ kind: 'flip', q: 1 } as never])).toThrow(/unknown parameter 'q'/);
  });
});
