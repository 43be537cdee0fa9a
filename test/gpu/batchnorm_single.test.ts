// Single-pass batch norm (ops/batchnorm_single.ts): forward and backward kernels vs the float64 reference and vs
// the two-pass kernels on edge shapes, the rule choosing them, the epilogue and ReLU mask fused, gradcheck, NaN,
// and the running averages updated in the forward kernel (vs batchNormUpdate, float64, fusion off, replay).
import { describe, expect, it } from 'vitest';
import {
  add,
  batchNorm,
  explain,
  gradcheck,
  init,
  keep,
  mul,
  ones,
  release,
  relu,
  sum,
  tensor,
  tidy,
  zeros,
  type FusionOptions,
  type Tensor,
} from '../../src/index.js';
import { passReplayStats } from '../../src/graph/pass_replay.js';
import { record } from '../../src/graph/record.js';
import { replayStats } from '../../src/graph/scheduler.js';
import { state } from '../../src/graph/state.js';
import {
  batchNormGradInputOp,
  batchNormGradOp,
  batchNormGradParamsOp,
  batchNormTrainOp,
  batchNormTrainUpdateOp,
  batchNormUpdateOp,
  trainTwoPass,
} from '../../src/ops/batchnorm.js';
import { singlePass, singlePassMaxRows, trainSinglePass } from '../../src/ops/batchnorm_single.js';
import { refMoments, refMovingAverage } from '../../src/reference/batchnorm.js';
import { expectClose, expectMatchesReference, seeded, useGpu } from '../helpers.js';
import { expectFused, withFusion } from './fusion_epilogue_helpers.js';

useGpu();

const epsilon = 1e-3;
const singleForward: typeof batchNormTrainOp = {
  ...batchNormTrainOp,
  forward: (io, a) => [trainSinglePass(io, a.epsilon, null)],
};
const twoPassForward: typeof batchNormTrainOp = { ...batchNormTrainOp, forward: trainTwoPass };

function leaf(shape: number[], seed: number, offset = 0, requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return keep(
    tensor(
      seeded(n, seed).map((v) => v + offset),
      shape,
      { requiresGrad },
    ),
  );
}

/** Both backward plans of one layer: batchNormGrad (single) and batchNormGradParams + batchNormGradInput. */
function backwards(dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, variance: Tensor, mask?: Tensor) {
  const m = mask ? [mask] : [];
  const attrs = { epsilon, reluMask: mask ? true : undefined };
  const single = record(batchNormGradOp, [dy, x, gamma, mean, variance, ...m], attrs);
  const params = record(batchNormGradParamsOp, [dy, x, mean, variance, ...m], attrs);
  const [dx] = record(batchNormGradInputOp, [dy, x, gamma, mean, variance, ...params, ...m], attrs);
  return { single, two: [dx, ...params] };
}

const CHANNELS = [1, 3, 4, 5, 16, 64, 67];
const rowsFor = (c: number) => [1, 2, 7, 255, 256, 257, singlePassMaxRows(c), singlePassMaxRows(c) + 1];
// Sums over up to 2^15 rows in float32: a few ulps of the sum, relative.
const TOL = { atol: 2e-5, rtol: 1e-4 };

describe('single-pass kernels vs the float64 reference and the two-pass kernels', () => {
  for (const c of CHANNELS) {
    it(`C = ${c}, rows ${rowsFor(c).join(', ')}`, async () => {
      for (const rows of rowsFor(c)) {
        const label = `${rows} x ${c}`;
        const x = leaf([rows, c], rows + c, 3);
        const gamma = leaf([c], 2, 1);
        const beta = leaf([c], 3);
        const dy = leaf([rows, c], 4);
        const mask = relu(leaf([rows, c], 5));
        const single = record(singleForward, [x, gamma, beta], { epsilon });
        const two = record(twoPassForward, [x, gamma, beta], { epsilon });
        const [, mean, variance] = two;
        const plain = backwards(dy, x, gamma, mean, variance);
        const masked = backwards(dy, x, gamma, mean, variance, mask);
        const outs = [single, two, plain.single, plain.two, masked.single, masked.two];
        await expectMatchesReference(outs.flat(), TOL, label);
        for (const [a, b] of [
          [single, two],
          [plain.single, plain.two],
          [masked.single, masked.two],
        ]) {
          for (let i = 0; i < 3; i++)
            expectClose(await a[i].data(), await b[i].data(), TOL, `${label} [${i}]`);
        }
        for (const t of [x, gamma, beta, dy, mask, ...outs.flat()]) t.dispose();
      }
    });
  }

  it('keeps the variance of data far from zero accurate (x = 1000 + noise in [-1, 1))', async () => {
    for (const [rows, c] of [
      [4096, 4],
      [7, 3],
      [1000, 64],
    ]) {
      const x = leaf([rows, c], 21, 1000);
      const [y, mean, variance] = record(singleForward, [x, ones([c]), zeros([c])], { epsilon });
      // A few float32 ulps of 1000 (6e-5 each) for the mean; the variance keeps its relative accuracy.
      await expectMatchesReference([mean], { atol: 0, rtol: 5e-7 }, 'mean');
      await expectMatchesReference([variance], { atol: 1e-6, rtol: 1e-3 }, 'variance');
      await expectMatchesReference([y], { atol: 2e-3, rtol: 0 }, 'y');
    }
  });
});

/** The ops of the kernels one training step of `build` plans. */
async function kernels(build: () => unknown): Promise<string[]> {
  const plan = await explain(() => tidy(build));
  return plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'));
}

describe('the rule and the backward rules that use it', () => {
  const layer = (shape: number[], xGrad: boolean) => () => {
    const c = shape[shape.length - 1];
    const x = leaf(shape, 31, 0, xGrad);
    const gamma = leaf([c], 32, 1, true);
    const beta = leaf([c], 33, 0, true);
    // Kept: the single-pass node reads them (the reference reads every leaf).
    const bn = { gamma, beta, runningMean: keep(zeros([c])), runningVar: keep(ones([c])), training: true };
    sum(mul(batchNorm(x, bn), leaf(shape, 34))).backward();
    return [x.grad, gamma.grad, beta.grad].filter((t): t is Tensor => !!t);
  };

  it('runs a short reduction in one dispatch each way; dgamma and dbeta come from the same kernel', async () => {
    // The largest single pass: 2^15 rows of 8 channels, 2^18 elements.
    const c = 8;
    const shape = [2, singlePassMaxRows(c) / 2, c];
    expect(singlePass(shape)).toBe(true);
    const list = await kernels(layer(shape, true));
    // The running averages are updated in the forward kernel.
    expect(list.filter((k) => k.startsWith('batchNorm'))).toEqual(['batchNormTrainUpdate', 'batchNormGrad']);
    const outs = tidy(layer(shape, true));
    await expectMatchesReference(outs, TOL, 'single');
  });

  it('keeps the two-pass kernels past the threshold, and the params-only path when x needs no gradient', async () => {
    const c = 8;
    const long = [singlePassMaxRows(c) + 1, c];
    expect(singlePass(long)).toBe(false);
    const plan = await explain(() => tidy(layer(long, true)));
    const names = plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'));
    expect(names).toContain('batchNormGradParams');
    expect(names).toContain('batchNormGradInput');
    expect(names).not.toContain('batchNormGrad');
    await expectMatchesReference(tidy(layer(long, true)), TOL, 'two-pass');
    const noX = await kernels(layer([3, 5, 8], false));
    expect(noX).toContain('batchNormGradParams');
    expect(noX).not.toContain('batchNormGrad');
    await expectMatchesReference(tidy(layer([3, 5, 8], false)), TOL, 'params only');
  });

  it('passes gradcheck through the single-pass kernels', async () => {
    const x = leaf([2, 3, 3, 5], 41, 0, true);
    const gamma = leaf([5], 42, 1, true);
    const beta = leaf([5], 43, 0, true);
    const result = await gradcheck(
      (a, g, b) =>
        batchNorm(a, { gamma: g, beta: b, runningMean: zeros([5]), runningVar: ones([5]), training: true }),
      [x, gamma, beta],
      { atol: 1e-3, rtol: 1e-2 },
    );
    expect(result.mismatches).toEqual([]);
    expect(result.checked).toBeGreaterThan(0);
  });

  it('spreads NaN as the two-pass kernels do: over its channel only, forward and backward', async () => {
    const [rows, c] = [9, 4];
    const data = seeded(rows * c, 51);
    data[5 * c + 2] = NaN;
    const x = keep(tensor(data, [rows, c]));
    const gamma = leaf([c], 52, 1);
    const beta = leaf([c], 53);
    const dy = leaf([rows, c], 54);
    const single = record(singleForward, [x, gamma, beta], { epsilon });
    const two = record(twoPassForward, [x, gamma, beta], { epsilon });
    const grads = backwards(dy, x, gamma, two[1], two[2]);
    const nan = async (t: Tensor) => Array.from(await t.data(), (v) => Number.isNaN(v));
    for (const [a, b] of [
      [single, two],
      [grads.single, grads.two],
    ])
      for (let i = 0; i < 3; i++) expect(await nan(a[i])).toEqual(await nan(b[i]));
    const y = await nan(single[0]);
    expect(y.filter((v, i) => v !== (i % c === 2)).length).toBe(0);
  });
});

/** The float64 running averages after a step on x [rows, C] (refMoments, refMovingAverage). */
function refRunning(
  x: Float32Array,
  c: number,
  running: Float64Array[],
  momentum: number,
  correction: number,
) {
  const rows = x.length / c;
  const { mean, variance } = refMoments({ shape: [rows, c], data: Float64Array.from(x) });
  const scale = correction === 0 ? 1 : rows / (rows - correction);
  return [
    refMovingAverage({ shape: [c], data: running[0] }, mean, momentum, 1).data,
    refMovingAverage({ shape: [c], data: running[1] }, variance, momentum, scale).data,
  ];
}

/** Running averages start away from the identity: mean in [-1, 1), variance in [0.5, 1.5). */
const startMean = (c: number) => seeded(c, 71);
const startVar = (c: number) => seeded(c, 72).map((v) => 1 + v / 2);
// The running averages after a few steps vs float64: the float32 statistics' few ulps, then the update's.
const RUNNING_TOL = { atol: 1e-6, rtol: 1e-5 };

describe('the running averages, updated in the single-pass kernel', () => {
  const steps = 3;
  for (const c of [3, 5, 8, 67]) {
    it(`C = ${c}: bit for bit batchNormUpdate after the same statistics, and float64, over ${steps} steps`, async () => {
      const shape = [2, 5, 7, c];
      for (const momentum of [0, 0.1, 0.9, 0.99, 1]) {
        for (const runningVarCorrection of [0, 1]) {
          const label = `momentum ${momentum}, correction ${runningVarCorrection}`;
          const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
          const varianceScale = runningVarCorrection === 0 ? 1 : rows / (rows - runningVarCorrection);
          const gamma = leaf([c], 73, 1);
          const beta = leaf([c], 74);
          const fused = [keep(tensor(startMean(c), [c])), keep(tensor(startVar(c), [c]))];
          const apart = [keep(tensor(startMean(c), [c])), keep(tensor(startVar(c), [c]))];
          let want: Float64Array[] = [Float64Array.from(startMean(c)), Float64Array.from(startVar(c))];
          for (let step = 0; step < steps; step++) {
            const x = leaf(shape, 80 + step, step);
            const bn = { gamma, beta, runningMean: fused[0], runningVar: fused[1], training: true };
            const options = { ...bn, momentum, runningVarCorrection, epsilon };
            if (step === 0) {
              const plan = await explain(() => tidy(() => batchNorm(x, options)));
              expect(plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'))).toEqual([
                'batchNormTrainUpdate',
              ]);
            }
            const y = batchNorm(x, options);
            // The old plan: the same single-pass statistics, then batchNormUpdate's own dispatch.
            const [yApart, mean, variance] = record(singleForward, [x, gamma, beta], { epsilon });
            record(batchNormUpdateOp, [...apart, mean, variance], { momentum, varianceScale });
            expect(Array.from(await y.data()), label).toEqual(Array.from(await yApart.data()));
            want = refRunning(await x.data(), c, want, momentum, runningVarCorrection);
            for (let k = 0; k < 2; k++) {
              const got = await fused[k].data();
              expect(Array.from(got), `${label}, step ${step} [${k}]`).toEqual(
                Array.from(await apart[k].data()),
              );
              expectClose(got, want[k], RUNNING_TOL, `${label}, step ${step} [${k}] vs float64`);
            }
            if (momentum === 0) {
              // The batch statistics exactly (the variance rescaled by the correction).
              expect(Array.from(await fused[0].data())).toEqual(Array.from(await mean.data()));
              if (runningVarCorrection === 0)
                expect(Array.from(await fused[1].data())).toEqual(Array.from(await variance.data()));
            }
            for (const t of [x, y, yApart, mean, variance]) t.dispose();
          }
          if (momentum === 1) {
            expect(Array.from(await fused[0].data())).toEqual(Array.from(startMean(c)));
            expect(Array.from(await fused[1].data())).toEqual(Array.from(startVar(c)));
          }
          for (const t of [gamma, beta, ...fused, ...apart]) t.dispose();
        }
      }
    });
  }

  it('updates them at the longest single pass (2^15 rows) and leaves the two-pass plan its own update past it', async () => {
    const c = 8;
    for (const rows of [singlePassMaxRows(c), singlePassMaxRows(c) + 1]) {
      const x = leaf([rows, c], 91, 2);
      const running = [keep(tensor(startMean(c), [c])), keep(tensor(startVar(c), [c]))];
      const options = {
        gamma: leaf([c], 92, 1),
        beta: leaf([c], 93),
        runningMean: running[0],
        runningVar: running[1],
        training: true,
        momentum: 0.9,
        runningVarCorrection: 1,
      };
      const plan = await explain(() => tidy(() => batchNorm(x, options)));
      const ops = plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'));
      const shaders = plan.kernels.map((k) => k.shader);
      if (singlePass([rows, c])) {
        expect(ops).toEqual(['batchNormTrainUpdate']);
        expect(shaders).toEqual(['batch_norm_train_single']);
      } else {
        expect(ops).toEqual(['batchNormTrain', 'batchNormTrain', 'batchNormTrain', 'batchNormUpdate']);
        expect(shaders).toContain('batch_norm_update');
      }
      const y = batchNorm(x, options);
      const start = [Float64Array.from(startMean(c)), Float64Array.from(startVar(c))];
      const want = refRunning(await x.data(), c, start, 0.9, 1);
      for (let k = 0; k < 2; k++)
        expectClose(await running[k].data(), want[k], RUNNING_TOL, `${rows} rows [${k}]`);
      for (const t of [x, y, options.gamma, options.beta, ...running]) t.dispose();
    }
  });

  it('runs the two-pass kernels, then batch_norm_update, where a batchNormTrainUpdate node is planned past the rule', async () => {
    // As when the switch is set off by init after the node was recorded.
    const [rows, c] = [singlePassMaxRows(5) + 1, 5];
    const x = leaf([rows, c], 98, -1);
    const [gamma, beta] = [leaf([c], 99, 1), leaf([c], 100)];
    const running = [keep(tensor(startMean(c), [c])), keep(tensor(startVar(c), [c]))];
    const attrs = { epsilon, momentum: 0.7, varianceScale: rows / (rows - 1) };
    const inputs = [x, gamma, beta, ...running];
    const plan = await explain(() => tidy(() => record(batchNormTrainUpdateOp, inputs, attrs)[0]));
    expect(plan.kernels.map((k) => k.shader)).toEqual([
      'batch_norm_stats',
      'batch_norm_stats_combine',
      'batch_norm_apply',
      'batch_norm_update',
    ]);
    const outs = record(batchNormTrainUpdateOp, inputs, attrs);
    await expectMatchesReference(outs, TOL, 'y, mean, variance');
    const start = [Float64Array.from(startMean(c)), Float64Array.from(startVar(c))];
    const want = refRunning(await x.data(), c, start, 0.7, 1);
    for (let k = 0; k < 2; k++) expectClose(await running[k].data(), want[k], RUNNING_TOL, `running [${k}]`);
  });

  it('keeps the separate update when a running average shares storage with gamma (one kernel cannot bind both)', async () => {
    const c = 4;
    const x = leaf([6, c], 95);
    const shared = keep(ones([c]));
    const options = { gamma: shared, beta: leaf([c], 96), runningMean: leaf([c], 97), runningVar: shared };
    const plan = await explain(() => tidy(() => batchNorm(x, { ...options, training: true, momentum: 0.5 })));
    expect(plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'))).toEqual([
      'batchNormTrain',
      'batchNormUpdate',
    ]);
  });
});

describe('fused with the epilogue (add, relu) and the ReLU mask', () => {
  const block = (shape: number[]) => () => {
    const c = shape[shape.length - 1];
    const x = leaf(shape, 61, 0.5, true);
    const r = leaf(shape, 62);
    const bn = (seed: number) => ({
      gamma: leaf([c], seed, 1, true),
      beta: leaf([c], seed + 1, 0, true),
      runningMean: keep(zeros([c])),
      runningVar: keep(ones([c])),
      training: true,
    });
    const b1 = bn(63);
    const b2 = bn(65);
    const h = relu(batchNorm(x, b1));
    const y = relu(add(batchNorm(h, b2), r));
    sum(mul(y, leaf(shape, 67))).backward();
    return [y, x.grad!, b1.gamma.grad!, b1.beta.grad!, b2.gamma.grad!, b2.beta.grad!];
  };

  for (const shape of [
    [2, 3, 5, 4],
    [1, 7, 3],
    [4, 9, 9, 16],
  ]) {
    it(`relu(bn(x)), relu(bn(h) + r) on ${JSON.stringify(shape)}`, async () => {
      const { kernels: fused } = await withFusion(true, block(shape));
      expect(fused).toContain('batchNormTrainUpdate+relu');
      expect(fused).toContain('batchNormTrainUpdate+add+relu');
      expect(fused).toContain('reluBackward+batchNormGrad');
      expect(fused.filter((k) => k.includes('batchNormGradParams') || k.includes('GradInput'))).toEqual([]);
      await expectFused(true, block(shape), fused, `block ${shape}`);
      // The epilogue is the store the epilogue pass generates: fused y equals bn, add and relu run apart (every
      // graph pass off, the single-pass batch-norm kernel kept).
      const passesOff = { foldBatchNorm: false, reluMask: false, epilogue: false, elementwise: false };
      const off = await withFusion(passesOff, block(shape));
      expect(off.kernels).toContain('batchNormTrainUpdate');
      const on = await withFusion(true, block(shape));
      expect(Array.from(on.values[0])).toEqual(Array.from(off.values[0]));
    });
  }
});

/** `steps` training-mode steps of one batch norm + relu on fresh batches, as fit() records them, under `init`. */
async function runningSteps(options: { fusion?: FusionOptions; replay?: boolean }, steps: number, c: number) {
  release();
  await init({ poisonBuffers: true, ...options });
  try {
    const gamma = leaf([c], 101, 1);
    const beta = leaf([c], 102);
    const running = [keep(tensor(startMean(c), [c])), keep(tensor(startVar(c), [c]))];
    let want: Float64Array[] = [Float64Array.from(startMean(c)), Float64Array.from(startVar(c))];
    const kernels: string[][] = [];
    for (let step = 0; step < steps; step++) {
      const x = tensor(seeded(3 * 6 * c, 110 + step), [3, 6, c]);
      const bn = { gamma, beta, runningMean: running[0], runningVar: running[1], training: true };
      const build = () => relu(batchNorm(x, { ...bn, momentum: 0.8, runningVarCorrection: 1 }));
      if (step === 0) kernels.push((await explain(() => tidy(build))).kernels.map((k) => k.shader));
      const y = tidy(build);
      await y.data();
      want = refRunning(await x.data(), c, want, 0.8, 1);
      for (const t of [x, y]) t.dispose();
    }
    const got = await Promise.all(running.map((t) => t.data()));
    got.forEach((g, k) => expectClose(g, want[k], RUNNING_TOL, `after ${steps} steps [${k}] vs float64`));
    const runtime = state.runtime!;
    return {
      got,
      kernels: kernels[0],
      hits: replayStats(runtime).hits,
      passHits: passReplayStats(runtime).hits,
    };
  } finally {
    release();
  }
}

describe('the running averages over many replayed steps', () => {
  it('replay on, replay off and fusion off agree with float64 after 24 steps; replay hits', async () => {
    const [steps, c] = [24, 6];
    const replayed = await runningSteps({}, steps, c);
    const planned = await runningSteps({ replay: false }, steps, c);
    const apart = await runningSteps({ fusion: { batchNormSingle: false } }, steps, c);
    expect(replayed.kernels).toEqual(['batch_norm_train_single']);
    expect(apart.kernels).toContain('batch_norm_update');
    expect(replayed.hits).toBeGreaterThan(steps / 2);
    expect(replayed.passHits).toBeGreaterThan(steps / 2);
    expect(planned.hits).toBe(0);
    for (let k = 0; k < 2; k++) {
      expect(Array.from(replayed.got[k])).toEqual(Array.from(planned.got[k]));
      // Two-pass statistics: the same values within float32 rounding.
      expectClose(replayed.got[k], apart.got[k], RUNNING_TOL, `fused vs fusion off [${k}]`);
    }
  }, 60_000);
});
