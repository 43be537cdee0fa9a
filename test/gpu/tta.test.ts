// GPU numerics for test-time augmentation: the crop/flip kernel, the combine kernels, ensembles and evaluate(tta).
import { describe, expect, it } from 'vitest';
import {
  ShapeError,
  cropFlip,
  ensemble,
  ensembleCombine,
  evaluate,
  gradcheck,
  inception,
  mul,
  resnet,
  softmax,
  softmaxCrossEntropy,
  stats,
  sum,
  tensor,
  tta,
  type CombineMode,
  type Tensor,
} from '../../src/index.js';
import type { Dataset } from '../../src/data/dataset.js';
import { Sequential } from '../../src/nn/index.js';
import { argmaxRow, crossEntropySum, tallyPredictions } from '../../src/train/metrics.js';
import { expectClose, expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const exact = { atol: 0, rtol: 0 };
const MODES: CombineMode[] = ['mean-prob', 'mean-logit', 'vote'];

const image = (shape: number[], seed: number, requiresGrad = false) =>
  tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    { requiresGrad },
  );

function crops(x: Tensor, t: tta.TestTimeAugmentation): Tensor {
  const { views, size, pad } = tta.viewsOf(t, x.shape[1], x.shape[2]);
  return cropFlip(x, views, { size, pad });
}

describe('cropFlip', () => {
  const cases: [string, number[], tta.TestTimeAugmentation][] = [
    ['tenCrop 4x6 pad 1, odd H != W, C=3, N=3', [3, 7, 9, 3], tta.tenCrop([4, 6], { pad: 1 })],
    ['fiveCrop 5 of 5x5 padded by 2, N=1, C=1', [1, 5, 5, 1], tta.fiveCrop(5, { pad: 2 })],
    ['flips, C=5', [2, 6, 5, 5], tta.flips()],
    ['tenCrop of the whole padded image, C=4', [2, 3, 4, 4], tta.tenCrop([5, 6], { pad: 1 })],
  ];
  for (const [name, shape, t] of cases) {
    it(`forward and backward match the reference: ${name}`, async () => {
      const x = image(shape, 1, true);
      const y = crops(x, t);
      sum(mul(y, image(y.shape as number[], 2))).backward();
      await expectMatchesReference([y, x.grad!], { atol: 1e-6, rtol: 1e-6 }, name);
    });
  }

  it('runs grids past 65,535 workgroups (a 4.4M-element view block)', async () => {
    const x = image([2, 301, 303, 24], 3);
    const y = crops(x, tta.flips());
    expect(y.shape).toEqual([4, 301, 303, 24]);
    await expectMatchesReference([y], exact);
  });

  it('passes gradcheck', async () => {
    const x = image([2, 4, 5, 2], 4);
    const { views, size, pad } = tta.viewsOf(tta.tenCrop([3, 3], { pad: 1 }), 4, 5);
    const r = await gradcheck((a) => cropFlip(a, views, { size, pad }), [x]);
    expect(r.ok, JSON.stringify(r.mismatches)).toBe(true);
  });

  it('gives identical crops for a symmetric image: the mirrored five equal the first five', async () => {
    // Mirror-symmetric rows (W = 7, odd crop offsets so the centre rounds), then a constant image.
    const w = 7;
    const values = Array.from({ length: 2 * 6 * w }, (_, i) => {
      const col = i % w;
      return Math.floor(i / w) * 10 + Math.min(col, w - 1 - col);
    });
    const y = await crops(tensor(values, [2, 6, w, 1]), tta.tenCrop([3, 4], { pad: 1 })).data();
    const per = 2 * 3 * 4;
    for (let v = 0; v < 5; v++) {
      expectClose(
        y.subarray((v + 5) * per, (v + 6) * per),
        y.subarray(v * per, (v + 1) * per),
        exact,
        `view ${v}`,
      );
    }
    const flat = await crops(
      tensor(new Array(1 * 6 * 7 * 2).fill(0.25), [1, 6, 7, 2]),
      tta.tenCrop(4),
    ).data();
    expectClose(flat, new Array(10 * 4 * 4 * 2).fill(0.25), exact, 'constant image');
  });

  it('refuses a crop larger than the image and out-of-range views, and stays usable', async () => {
    const x = image([1, 4, 4, 1], 5);
    expect(() => cropFlip(x, [{ top: 0, left: 0, flip: false }], { size: [5, 4] })).toThrow(
      /cropFlip: argument 'size' 5x4 is larger than the 4x4 image padded by 0/,
    );
    expect(() => cropFlip(x, [{ top: 1, left: 0, flip: false }], { size: [4, 4] })).toThrow(ShapeError);
    expect(() => cropFlip(x, [], { size: [2, 2] })).toThrow(/'views' must be a non-empty array/);
    const three = [2, 2, 2] as unknown as [number, number];
    expect(() => cropFlip(x, [{ top: 0, left: 0, flip: false }], { size: three })).toThrow(
      /cropFlip: argument 'size' must be \[OH, OW\]/,
    );
    expect(() => cropFlip(image([4, 4], 6), [{ top: 0, left: 0, flip: true }], { size: [2, 2] })).toThrow(
      /cropFlip: argument 'x' must have rank 4/,
    );
    const y = await cropFlip(x, [{ top: 0, left: 0, flip: true }], { size: [4, 4] }).data();
    expect(y[0]).toBe((await x.data())[3]);
  });
});

describe('ensembleCombine', () => {
  for (const mode of MODES) {
    for (const shape of [
      [3, 5, 7],
      [1, 1, 1],
      [4, 2, 10],
    ]) {
      it(`${mode} on ${JSON.stringify(shape)}: scores, saved statistics and gradient match the reference`, async () => {
        const z = tensor(
          seeded(shape[0] * shape[1] * shape[2], 7).map((v) => 4 * v),
          shape,
          { requiresGrad: true },
        );
        const [out, lse, argmax] = ensembleCombine(z, mode).node!.outputs;
        sum(mul(out, image([shape[1], shape[2]], 8))).backward();
        await expectMatchesReference([out, lse, argmax, z.grad!], { atol: 2e-6, rtol: 1e-5 }, mode);
      });
    }

    it(`${mode} passes gradcheck and stays finite for logits hundreds apart`, async () => {
      const z = tensor(
        seeded(3 * 4 * 6, 9).map((v) => 3 * v),
        [3, 4, 6],
      );
      const r = await gradcheck((a) => ensembleCombine(a, mode), [z]);
      expect(r.ok, JSON.stringify(r.mismatches)).toBe(true);
      const far = tensor([300, -300, 0, -300, 300, 0], [2, 1, 3]);
      const out = await ensembleCombine(far, mode).data();
      expect(out.every(Number.isFinite), String(out)).toBe(true);
      await expectMatchesReference([ensembleCombine(far, mode)], { atol: 1e-4, rtol: 1e-5 }, mode);
    });
  }
});

describe('ensemble', () => {
  const small = (seed: number, classes = 4) =>
    resnet({ inputShape: [8, 8, 1], widths: [4, 8], blocks: [1, 1], classes, seed });
  const x = () => image([3, 8, 8, 1], 11);

  it('of identical members equals one member in every mode', async () => {
    const one = small(1).eval();
    const input = x();
    const z = await one.forward(input).data();
    const p = await softmax(one.forward(input)).data();
    for (const combine of MODES) {
      const ens = ensemble([small(1), small(1), small(1)], { combine }).eval();
      const out = ens.forward(input);
      // vote: three hard votes for the member's class and its probabilities as the soft fourth.
      const expected =
        combine === 'vote' ? p.map((v, i) => (v + (argmaxRow(z, i - (i % 4), 4) === i % 4 ? 3 : 0)) / 4) : p;
      if (combine === 'mean-logit') expectClose(await out.data(), z, { atol: 1e-6, rtol: 1e-6 }, combine);
      else expectClose(await softmax(out).data(), expected, { atol: 1e-6, rtol: 1e-5 }, combine);
      const got = await out.data();
      for (let n = 0; n < 3; n++)
        expect(argmaxRow(got, n * 4, 4), `${combine} row ${n}`).toBe(argmaxRow(z, n * 4, 4));
    }
  });

  for (const combine of MODES) {
    it(`${combine} over members of different architectures matches the float64 reference`, async () => {
      const members = [
        small(2),
        inception({
          inputShape: [8, 8, 1],
          classes: 4,
          stem: 4,
          stages: [[{ b1: 2, b3Reduce: 2, b3: 3, b5Reduce: 1, b5: 2, poolProj: 2 }]],
          seed: 3,
        }),
        small(4),
      ];
      const ens = ensemble(members, { combine }).eval();
      await expectMatchesReference([ens.forward(x())], { atol: 1e-5, rtol: 1e-4 }, combine);
    });
  }

  it("runs every member's forward of a batch in one submit", async () => {
    const ens = ensemble([small(5), small(6), small(7)]).eval();
    const input = x();
    await input.data();
    const before = stats();
    await ens.forward(input).data();
    const after = stats();
    expect(after.submits - before.submits).toBe(1);
    // Three members' convolutions at least, not one member's.
    expect(after.dispatches - before.dispatches).toBeGreaterThan(3 * 8);
  });

  it('refuses members that disagree on the class count at forward, naming the member', () => {
    // Sequential hides the class count that a Network states, so only the forward can tell.
    const ens = ensemble([new Sequential(small(1)), new Sequential(small(2, 3))]);
    expect(() => ens.forward(x())).toThrow(/ensemble: member 1 predicts \[3,3\], member 0 \[3,4\]/);
    expect(() => ensemble([small(1).trunk]).forward(x())).toThrow(
      /ensemble: member 0 predicts \[3,4,4,8\]: members must give/,
    );
  });

  it('trains jointly: one loss on the combined scores reaches every member', () => {
    const ens = ensemble([small(8), small(9)], { combine: 'mean-prob' });
    softmaxCrossEntropy(ens.forward(x()), tensor([0, 1, 2], [3], { dtype: 'int32' })).backward();
    for (const m of ens.members) expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
  });
});

describe('evaluate with tta', () => {
  function dataset(n: number, seed: number): Dataset {
    return {
      images: seeded(n * 8 * 8, seed).map((v) => (v + 1) / 2),
      labels: Int32Array.from(seeded(n, seed + 1), (v) => Math.floor(((v + 1) / 2) * 4)),
      shape: [8, 8, 1],
      classes: ['a', 'b', 'c', 'd'],
      length: n,
    };
  }
  const member = (seed: number) =>
    resnet({ inputShape: [8, 8, 1], widths: [4, 8], blocks: [1, 1], classes: 4, seed });

  it('flips: the mean probability of each image and its mirror, as computed on the host', async () => {
    const data = dataset(5, 21);
    const model = member(22);
    const got = await evaluate(model, data, { tta: tta.flips() });
    const mirrored = { ...data, images: data.images.map((_, i) => data.images[i - (i % 8) + 7 - (i % 8)]) };
    model.eval();
    const [a, b] = await Promise.all(
      [data, mirrored].map((d) => softmax(model.forward(tensor(d.images, [5, 8, 8, 1]))).data()),
    );
    const logMean = a.map((v, i) => Math.log((v + b[i]) / 2));
    expect(got.loss).toBeCloseTo(crossEntropySum(logMean, data.labels, 4) / 5, 5);
    expect(got.accuracy).toBe(tallyPredictions(logMean, data.labels, 4) / 5);
    expect(got.imagesPerSecond).toBeGreaterThan(0);
  });

  it('splitting crops x batch into several forwards gives the same result', async () => {
    const data = dataset(7, 23);
    const model = ensemble([member(24), member(25)], { combine: 'vote' });
    const t = tta.tenCrop(8, { pad: 1 });
    const whole = await evaluate(model, data, { tta: t, batchSize: 7, maxBatch: 70 });
    const split = await evaluate(model, data, { tta: t, batchSize: 7, maxBatch: 25 });
    expect(split.loss).toBeCloseTo(whole.loss, 5);
    expect(split.accuracy).toBe(whole.accuracy);
    expect(split.confusion).toEqual(whole.confusion);
    expect(split.members!.map((m) => m.accuracy)).toEqual(whole.members!.map((m) => m.accuracy));
  });

  it("reports each member's own loss and accuracy with the same tta", async () => {
    const data = dataset(6, 26);
    const members = [member(27), member(28), member(29)];
    const t = tta.fiveCrop(7, { pad: 1 });
    const ens = await evaluate(ensemble(members, { combine: 'mean-logit' }), data, { tta: t });
    for (const [i, m] of members.entries()) {
      const alone = await evaluate(m, data, { tta: t });
      expect(ens.members![i].loss).toBeCloseTo(alone.loss, 5);
      expect(ens.members![i].accuracy).toBe(alone.accuracy);
    }
  });

  it('refuses a crop larger than the images and bad options, and stays usable', async () => {
    const data = dataset(2, 30);
    const model = member(31);
    await expect(evaluate(model, data, { tta: tta.tenCrop(9) })).rejects.toThrow(
      /tenCrop: the 9x9 crop is larger than the 8x8 image padded by 0/,
    );
    await expect(evaluate(model, data, { maxBatch: 0 })).rejects.toThrow(
      /evaluate: 'maxBatch' must be an integer >= 1/,
    );
    await expect(evaluate(model, data, { tta: { kind: 'twelveCrop' } as never })).rejects.toThrow(
      /tta: expected/,
    );
    expect(model.training).toBe(true);
    expect((await evaluate(model, data)).confusion.flat().reduce((a, b) => a + b)).toBe(2);
  });
});
