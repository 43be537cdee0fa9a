// Test-time augmentation without a device: crop geometry vs torchvision, crop references, combine references, errors.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ArgumentError, ShapeError, ensemble, resnet, tta } from '../../src/index.js';
import { refCropFlip, refCropFlipBackward } from '../../src/reference/crop_flip.js';
import {
  refEnsembleCombine,
  refEnsembleCombineBackward,
  type CombineMode,
} from '../../src/reference/ensemble.js';
import { expectClose, seeded } from '../helpers.js';

const ref = (shape: number[], seed: number) => ({
  shape,
  data: Float64Array.from(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  ),
});
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);

/** The crops of a [1,H,W,1] image with values 0 .. H*W-1, as tta.viewsOf and the reference make them. */
function ourCrops(t: tta.TestTimeAugmentation, h: number, w: number): number[][] {
  const x = { shape: [1, h, w, 1], data: Float64Array.from({ length: h * w }, (_, i) => i) };
  const { views, size, pad } = tta.viewsOf(t, h, w);
  const out = refCropFlip(x, { views, size, pad });
  const per = size[0] * size[1];
  return views.map((_, v) => Array.from(out.data.subarray(v * per, (v + 1) * per)));
}

const torchvision = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torchvision'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
})();

describe('crop geometry', () => {
  // Only the real torchvision counts here: without it this check is skipped, not imitated.
  it.skipIf(!torchvision)(
    "tenCrop and fiveCrop match torchvision's TenCrop and FiveCrop at odd sizes",
    () => {
      const cases: [number, number, [number, number]][] = [
        [7, 9, [4, 6]],
        [8, 11, [5, 5]],
        [5, 5, [5, 5]],
        [9, 6, [2, 3]],
        [9, 8, [4, 3]],
        [6, 6, [5, 5]],
      ];
      const script = [
        'import sys, json, torch, torchvision.transforms as T',
        'out = []',
        'for h, w, ch, cw in json.loads(sys.argv[1]):',
        '    img = torch.arange(h * w, dtype=torch.float64).reshape(1, h, w)',
        '    out.append([[c.flatten().tolist() for c in T.TenCrop((ch, cw))(img)],',
        '                [c.flatten().tolist() for c in T.FiveCrop((ch, cw))(img)]])',
        'print(json.dumps(out))',
      ].join('\n');
      const arg = JSON.stringify(cases.map(([h, w, [ch, cw]]) => [h, w, ch, cw]));
      const theirs = JSON.parse(
        execFileSync('/usr/bin/python3', ['-c', script, arg]).toString(),
      ) as number[][][][];
      cases.forEach(([h, w, size], i) => {
        expect(ourCrops(tta.tenCrop(size), h, w), `tenCrop ${h}x${w} → ${size}`).toEqual(theirs[i][0]);
        expect(ourCrops(tta.fiveCrop(size), h, w), `fiveCrop ${h}x${w} → ${size}`).toEqual(theirs[i][1]);
      });
    },
  );

  it('rounds the centre offset half to even (Python round), in padded coordinates', () => {
    // 9 - 4 = 5: 2.5 rounds to 2; 10 - 5 = 5 likewise; 7 - 4 = 3: 1.5 rounds to 2.
    expect(tta.viewsOf(tta.fiveCrop([4, 4]), 9, 7).views[4]).toEqual({ top: 2, left: 2, flip: false });
    const padded = tta.viewsOf(tta.tenCrop(28, { pad: 2 }), 28, 28);
    expect(padded.pad).toBe(2);
    expect(padded.views.map((v) => [v.top, v.left, v.flip])).toEqual([
      [0, 0, false],
      [0, 4, false],
      [4, 0, false],
      [4, 4, false],
      [2, 2, false],
      [0, 0, true],
      [0, 4, true],
      [4, 0, true],
      [4, 4, true],
      [2, 2, true],
    ]);
  });

  it('flips gives the image and its mirror', () => {
    expect(ourCrops(tta.flips(), 2, 3)).toEqual([
      [0, 1, 2, 3, 4, 5],
      [2, 1, 0, 5, 4, 3],
    ]);
  });

  it('pads with zeros: the top-left crop of a 2x2 image padded by 1', () => {
    const crops = ourCrops(tta.fiveCrop(2, { pad: 1 }), 2, 2);
    expect(crops[0]).toEqual([0, 0, 0, 0]);
    expect(crops[3]).toEqual([3, 0, 0, 0]);
    expect(crops[4]).toEqual([0, 1, 2, 3]);
  });

  it('the crop backward reference is the adjoint of the forward one', () => {
    const x = ref([3, 5, 7, 2], 1);
    const { views, size, pad } = tta.viewsOf(tta.tenCrop([4, 3], { pad: 1 }), 5, 7);
    const attrs = { views, size, pad };
    const y = refCropFlip(x, attrs);
    const dy = ref(y.shape as number[], 2);
    const dx = refCropFlipBackward(dy, attrs, x.shape);
    expect(dot(y.data, dy.data)).toBeCloseTo(dot(x.data, dx.data), 10);
  });
});

describe('combine references', () => {
  const z = ref([3, 4, 5], 3);
  z.data.forEach((v, i) => (z.data[i] = 3 * v));

  it('identical members give one member: mean-logit its logits, mean-prob its log-softmax', () => {
    const one = { shape: [1, 4, 5], data: z.data.slice(0, 20) };
    const same = { shape: [3, 4, 5], data: Float64Array.from([...one.data, ...one.data, ...one.data]) };
    expectClose(refEnsembleCombine(same, 'mean-logit')[0].data, one.data, { atol: 1e-12, rtol: 1e-12 });
    const logSoftmax = refEnsembleCombine(one, 'mean-prob')[0].data;
    expectClose(refEnsembleCombine(same, 'mean-prob')[0].data, logSoftmax, { atol: 1e-12, rtol: 1e-12 });
    for (let n = 0; n < 4; n++) {
      const row = Array.from(logSoftmax.subarray(n * 5, n * 5 + 5));
      expect(Math.log(row.reduce((s, v) => s + Math.exp(v), 0))).toBeCloseTo(0, 12);
    }
  });

  it('vote: the most votes win, ties go to the larger mean probability, and the output is a log-distribution', () => {
    // Members 0 and 1 vote class 0, member 2 votes class 1; a second row with a 1-1-1 tie that member 2's
    // confidence decides.
    const votes = {
      shape: [3, 2, 3],
      data: Float64Array.from([1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 9, 0, 9, 0, 0]),
    };
    const [out] = refEnsembleCombine(votes, 'vote');
    const row = (n: number) => Array.from(out.data.subarray(n * 3, n * 3 + 3));
    expect(row(0).indexOf(Math.max(...row(0)))).toBe(0);
    expect(row(1).indexOf(Math.max(...row(1)))).toBe(0);
    for (const n of [0, 1]) expect(row(n).reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 12);
  });

  for (const mode of ['mean-logit', 'mean-prob', 'vote'] as CombineMode[]) {
    it(`${mode}: the backward reference matches central differences of the forward reference`, () => {
      const dy = ref([4, 5], 4);
      const dz = refEnsembleCombineBackward(dy, z, mode);
      const eps = 1e-6;
      for (const i of [0, 7, 23, 41, 59]) {
        const plus = { shape: z.shape, data: z.data.slice() };
        const minus = { shape: z.shape, data: z.data.slice() };
        plus.data[i] += eps;
        minus.data[i] -= eps;
        const f = (t: typeof z) => dot(refEnsembleCombine(t, mode)[0].data, dy.data);
        expect(dz.data[i]).toBeCloseTo((f(plus) - f(minus)) / (2 * eps), 6);
      }
    });
  }
});

describe('argument errors', () => {
  it('refuses bad crop sizes, paddings and combine modes, naming the function', () => {
    expect(() => tta.tenCrop(0)).toThrow(ArgumentError);
    expect(() => tta.tenCrop(2.5)).toThrow(/tenCrop: 'size' must be an integer >= 1/);
    expect(() => tta.fiveCrop(3, { pad: -1 })).toThrow(/fiveCrop: 'pad' must be an integer >= 0, got -1/);
    expect(() => tta.flips({ combine: 'max' as CombineMode })).toThrow(/flips: 'combine' must be one of/);
    expect(() => tta.tenCrop(3, { padding: 2 } as tta.CropOptions)).toThrow(
      /tenCrop: unknown option 'padding'/,
    );
  });

  it('refuses a crop larger than the (padded) image', () => {
    expect(() => tta.viewsOf(tta.tenCrop(29), 28, 28)).toThrow(ShapeError);
    expect(() => tta.viewsOf(tta.tenCrop(33, { pad: 2 }), 28, 28)).toThrow(
      /tenCrop: the 33x33 crop is larger than the 28x28 image padded by 2 \(32x32\)/,
    );
    expect(tta.viewsOf(tta.tenCrop(32, { pad: 2 }), 28, 28).size).toEqual([32, 32]);
  });

  it('refuses an empty ensemble, non-modules, unknown modes and members with different class counts', () => {
    expect(() => ensemble([])).toThrow(/ensemble: argument 'models' must be a non-empty array/);
    expect(() => ensemble([{} as never])).toThrow(/ensemble: models\[0\] is not a Module/);
    const a = resnet({ widths: [2], blocks: [1] });
    const b = resnet({ widths: [2], blocks: [1], classes: 5 });
    expect(() => ensemble([a], { combine: 'median' as CombineMode })).toThrow(/'combine' must be one of/);
    expect(() => ensemble([a, b])).toThrow(/models\[1\] has 5 classes, models\[0\] has 10/);
  });
});
