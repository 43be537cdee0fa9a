// The foldBatchNorm pass: inference batch norm folded into the conv before it, against the unfolded graph and the
// float64 reference on edge shapes; what it must leave alone; the cached fold never stale after a step or a load.
import { describe, expect, it } from 'vitest';
import {
  SGD,
  assignValues,
  batchNorm,
  concat,
  conv2d,
  explain,
  init,
  mean,
  release,
  relu,
  stats,
  tidy,
  type Conv2dOptions,
} from '../../src/index.js';
import { expectMatchesReference } from '../helpers.js';
import { expectFused, leaf, tol } from './fusion_epilogue_helpers.js';

/** Batch-norm parameters for C channels with non-trivial statistics. */
function bnParams(c: number, seed: number) {
  return {
    gamma: leaf([c], seed, 0.5, 1.5),
    beta: leaf([c], seed + 1),
    runningMean: leaf([c], seed + 2),
    runningVar: leaf([c], seed + 3, 0.5, 2),
  };
}

type FoldCase = [string, number[], number[], Conv2dOptions & { withBias?: boolean }];
const CASES: FoldCase[] = [
  ["stride 2 'same', 3 -> 5 channels", [2, 7, 6, 3], [3, 3, 3, 5], { stride: 2, padding: 'same' }],
  [
    'explicit padding, with a conv bias',
    [1, 6, 5, 4],
    [3, 3, 4, 8],
    {
      padding: [
        [1, 1],
        [0, 2],
      ],
      withBias: true,
    },
  ],
  ['1x1 stride 2', [2, 8, 6, 8], [1, 1, 8, 12], { stride: 2 }],
  ['dilation 2, odd channels', [1, 9, 9, 3], [3, 3, 3, 7], { dilation: 2, padding: 'same' }],
];

describe('foldBatchNorm values', () => {
  for (const [name, xs, ws, { withBias, ...opts }] of CASES) {
    it(name, async () => {
      const build = () => {
        const x = leaf(xs, 1);
        const w = leaf(ws, 2);
        const bias = withBias ? { bias: leaf([ws[3]], 3) } : {};
        const y = conv2d(x, w, { ...opts, ...bias });
        return [relu(batchNorm(y, { ...bnParams(ws[3], 10), training: false, epsilon: 1e-5 }))];
      };
      // A fresh model: its fold is computed in the flush (batchNormFold), the ReLU stored by the folded conv.
      await expectFused(true, build, ['batchNormFold', 'conv2d+batchNormInference+relu'], `${name}, all on`);
      await expectFused(
        { epilogue: false },
        build,
        ['batchNormFold', 'conv2d+batchNormInference', 'relu'],
        `${name}, fold alone`,
      );
    });
  }
});

describe('foldBatchNorm leaves alone', () => {
  it('a batch norm after concat (grouped conv), in training, or whose conv output is also read; a conv without one', async () => {
    const build = () => {
      const x = leaf([1, 5, 5, 4], 1);
      const grouped = conv2d(x, leaf([3, 3, 2, 4], 2), { padding: 'same', groups: 2 });
      const afterConcat = batchNorm(grouped, { ...bnParams(4, 10), training: false });
      const training = batchNorm(conv2d(x, leaf([1, 1, 4, 4], 3)), { ...bnParams(4, 20), training: true });
      const y = conv2d(x, leaf([1, 1, 4, 4], 4));
      const shared = concat([batchNorm(y, { ...bnParams(4, 30), training: false }), y], 3);
      const plain = relu(conv2d(x, leaf([1, 1, 4, 4], 5)));
      return [afterConcat, training, shared, plain];
    };
    release();
    await init({ poisonBuffers: true });
    let kernels: string[];
    try {
      const plan = await explain(() => tidy(build));
      kernels = plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'));
      await expectMatchesReference(tidy(build), tol, 'left alone');
    } finally {
      release();
    }
    expect(kernels).not.toContain('batchNormFold');
    expect(kernels.filter((k) => k.startsWith('batchNormInference'))).toHaveLength(2);
    expect(kernels.some((k) => k.startsWith('batchNormTrain'))).toBe(true);
    expect(kernels).toContain('conv2d+relu');
  });
});

describe('the cached fold', () => {
  it('is reused while the weights keep their values and recomputed after an optimizer step or a load', async () => {
    release();
    await init({ poisonBuffers: true });
    try {
      const x = leaf([2, 6, 6, 4], 1);
      const w = leaf([3, 3, 4, 4], 2);
      w.requiresGrad = true;
      const bn = bnParams(4, 10);
      const raw = (training: boolean) =>
        relu(batchNorm(conv2d(x, w, { padding: 'same' }), { ...bn, training }));
      const forward = (training: boolean) => tidy(() => raw(training));
      const folds = async () => {
        const plan = await explain(() => forward(false));
        return plan.kernels.filter((k) => k.shader === 'batch_norm_fold').length;
      };
      const evalMatches = async (label: string) => {
        const y = forward(false);
        await expectMatchesReference([y], tol, label);
        y.dispose();
      };
      await evalMatches('first');
      // The first flush computed the fold; an explain() dry run between must not spoil it.
      expect(await folds()).toBe(0);
      const before = stats().dispatches;
      await forward(false).data();
      expect(stats().dispatches - before).toBe(1);
      await evalMatches('reused');

      // A training step changes w (in place) and the running statistics.
      const opt = new SGD([w], { lr: 0.5 });
      tidy(() => mean(raw(true)).backward());
      await opt.step();
      opt.zeroGrad();
      expect(await folds()).toBe(1);
      await evalMatches('after an optimizer step');
      expect(await folds()).toBe(0);

      // A load (assignValues) of one statistic.
      assignValues(
        bn.runningVar,
        Array.from({ length: 4 }, (_, i) => 0.25 + i),
      );
      await evalMatches('after a load');
      expect(await folds()).toBe(0);
    } finally {
      release();
    }
  });
});
