// The reluMask pass: the ReLU mask applied inside batch-norm backward and every conv backprop variant instead of a
// reluBackward kernel, against the unfused graph and the float64 reference on edge shapes; what stays unfused.
import { describe, expect, it } from 'vitest';
import {
  add,
  batchNorm,
  conv2d,
  init,
  keep,
  mean,
  ones,
  relu,
  release,
  stats,
  tensor,
  tidy,
  zeros,
  type Tensor,
} from '../../src/index.js';
import { record } from '../../src/graph/record.js';
import { convAttrs, type Conv2dOptions } from '../../src/ops/conv2d.js';
import {
  backpropFilterPlan,
  conv2dBackpropFilterOp,
  wgtileFilterChoice,
  type BackpropFilterChoice,
} from '../../src/ops/conv2d_backprop_filter.js';
import {
  backpropInputPlan,
  conv2dBackpropInputOp,
  type BackpropInputChoice,
} from '../../src/ops/conv2d_backprop_input.js';
import { convDims } from '../../src/ops/conv_geometry.js';
import { reluMaskRegion } from '../../src/ops/elementwise/relu_mask.js';
import { reluBackward } from '../../src/ops/relu.js';
import type { KernelIO } from '../../src/ops/types.js';
import { DEFAULT_WGTILE } from '../../src/ops/wgtile.js';
import { expectMatchesReference, seeded } from '../helpers.js';
import { expectFused, leaf, tol, withFusion } from './fusion_epilogue_helpers.js';

type ConvCase = [string, number[], number[], Omit<Conv2dOptions, 'bias'>];
const CASES: ConvCase[] = [
  ["3 -> 5 channels, 3x3 'same' stride 2", [2, 7, 6, 3], [3, 3, 3, 5], { stride: 2, padding: 'same' }],
  [
    '8 -> 12, 3x3 explicit padding, batch 1',
    [1, 6, 7, 8],
    [3, 3, 8, 12],
    {
      padding: [
        [1, 0],
        [2, 1],
      ],
    },
  ],
  ['1x1, 8 -> 4, stride 2', [2, 7, 5, 8], [1, 1, 8, 4], { stride: 2 }],
  ["5 -> 6, 2x2 'same', dilation 2", [2, 5, 6, 5], [2, 2, 5, 6], { padding: 'same', dilation: 2 }],
  ['3 -> 8 (Cout multiple of 4, Cin not), batch 1', [1, 5, 5, 3], [3, 3, 3, 8], { padding: 'same' }],
];

/** Every dx choice that runs these channels (register tiles at two sizes, the fixed vec4 tile, the workgroup tile). */
function inputChoices(cin: number, cout: number): BackpropInputChoice[] {
  const list: BackpropInputChoice[] = [
    { variant: 'scalar', tm: 4, tn: Math.min(cin, 4) },
    { variant: 'scalar', tm: 2, tn: 1 },
    { variant: 'wgtile', tile: DEFAULT_WGTILE },
  ];
  if (cin % 4 === 0 && cout % 4 === 0) list.push({ variant: 'vec4', tm: 4, tn: 2 }, { variant: 'vec4_regs' });
  return list;
}

/** Every dw choice that runs these channels, one chunk and several (then a sum pass follows). */
function filterChoices(d: ReturnType<typeof convDims>): BackpropFilterChoice[] {
  const k = d.n * d.oh * d.ow;
  const list: BackpropFilterChoice[] = [];
  for (const chunk of [k, Math.ceil(k / 3)]) {
    list.push({ variant: 'scalar', tn: Math.min(d.cout, 8), chunk });
    if (d.cout % 4 === 0) list.push({ variant: 'cout4', tn: Math.min(d.cout / 4, 4), chunk });
    if (d.cin % 4 === 0 && d.cout % 4 === 0)
      list.push({ variant: 'vec4', tn: 2, chunk }, { variant: 'vec4_regs', chunk });
  }
  list.push(wgtileFilterChoice(d, DEFAULT_WGTILE), { ...wgtileFilterChoice(d, DEFAULT_WGTILE), chunk: 7 });
  return list;
}

const label = (c: object) => JSON.stringify(c);

describe('reluMask: every conv backprop variant reads dy through the mask', () => {
  for (const [name, xs, ws, opts] of CASES) {
    it(name, async () => {
      const attrs = convAttrs('conv2d', opts);
      const d = convDims('conv2d', xs, ws, attrs);
      const dyShape = [d.n, d.oh, d.ow, d.cout];
      const pairs: [BackpropInputChoice, BackpropFilterChoice][] = [];
      const ins = inputChoices(d.cin, d.cout);
      const fils = filterChoices(d);
      for (let i = 0; i < Math.max(ins.length, fils.length); i++)
        pairs.push([ins[i % ins.length], fils[i % fils.length]]);
      for (const [ci, cf] of pairs) {
        const bpi = { ...conv2dBackpropInputOp, forward: (io: KernelIO) => backpropInputPlan(io, d, ci) };
        const bpf = { ...conv2dBackpropFilterOp, forward: (io: KernelIO) => backpropFilterPlan(io, d, cf) };
        const build = () => {
          const x = leaf(xs, 1);
          const w = leaf(ws, 2);
          // y: a relu output with many zeros (and exact zeros of the pre-activation: masked as y > 0 says).
          const y = relu(leaf(dyShape, 3));
          const g = reluBackward(leaf(dyShape, 4), y);
          const [dx] = record(bpi, [g, w], { ...attrs, inputShape: xs });
          const [dw] = record(bpf, [x, g], { ...attrs, filterShape: ws });
          return [dx, dw];
        };
        const { kernels } = await withFusion(true, build);
        expect(kernels[0], label(ci)).toBe('relu');
        expect(
          kernels.slice(1).every((k) => k.startsWith('reluBackward+conv2dBackprop')),
          kernels.join(),
        ).toBe(true);
        expect(kernels).toContain('reluBackward+conv2dBackpropInput');
        expect(kernels).toContain('reluBackward+conv2dBackpropFilter');
        await expectFused(true, build, kernels, `${name}, ${label(ci)}, ${label(cf)}`);
      }
    });
  }
});

/** conv → batch norm (training) → relu → conv → mean: the relu's gradient comes from the second conv's dx. */
function bnBlock(xs: number[], c: number) {
  return () => {
    const x = leaf(xs, 11);
    const w1 = keep(tensor(seeded(3 * 3 * xs[3] * c, 12), [3, 3, xs[3], c], { requiresGrad: true }));
    const w2 = keep(tensor(seeded(3 * 3 * c * 3, 13), [3, 3, c, 3], { requiresGrad: true }));
    const gamma = keep(
      tensor(
        seeded(c, 14).map((v) => 1 + 0.5 * v),
        [c],
        { requiresGrad: true },
      ),
    );
    const beta = keep(tensor(seeded(c, 15), [c], { requiresGrad: true }));
    const h = conv2d(x, w1, { padding: 'same' });
    const bn = { gamma, beta, runningMean: keep(zeros([c])), runningVar: keep(ones([c])), training: true };
    const y = relu(batchNorm(h, bn));
    const loss = mean(conv2d(y, w2, { padding: 'same' }));
    loss.backward();
    return [loss, w1.grad!, w2.grad!, gamma.grad!, beta.grad!];
  };
}

describe('reluMask: batch-norm backward (batchNormGrad: one kernel for these short reductions) applies the mask', () => {
  for (const [xs, c] of [
    [[2, 5, 6, 3], 5],
    [[1, 4, 4, 2], 8],
    [[3, 3, 5, 4], 3],
  ] as [number[], number][]) {
    it(`x ${xs}, C = ${c}`, async () => {
      const { kernels } = await withFusion(true, bnBlock(xs, c));
      expect(kernels).toContain('reluBackward+batchNormGrad');
      expect(kernels).not.toContain('reluBackward');
      await expectFused(true, bnBlock(xs, c), kernels, `bn block ${xs}`);
    });
  }

  it('past the single-pass threshold, grad params and grad input each apply the mask', async () => {
    // 182 x 182 rows of 8 channels: more than ops/batchnorm_single.ts runs in one dispatch.
    const build = bnBlock([1, 182, 182, 3], 8);
    const { kernels } = await withFusion(true, build);
    expect(kernels).toContain('reluBackward+batchNormGradInput');
    expect(kernels).toContain('reluBackward+batchNormGradParams');
    expect(kernels).not.toContain('reluBackward');
    await expectFused(true, build, kernels, 'bn block past the threshold');
  });

  it('the masked kernels equal their float64 reference directly (attrs.reluMask)', async () => {
    release();
    await init({ poisonBuffers: true });
    try {
      const rows = [3, 5, 7];
      const dy = leaf(rows, 21);
      const x = leaf(rows, 22);
      const y = relu(leaf(rows, 23));
      const stat = (seed: number, lo = -1, hi = 1) => leaf([7], seed, lo, hi);
      const { batchNormGradInputOp, batchNormGradParamsOp } = await import('../../src/ops/batchnorm.js');
      const [mu, v] = [stat(24), stat(25, 0.5, 2)];
      const params = record(batchNormGradParamsOp, [dy, x, mu, v, y], { epsilon: 1e-3, reluMask: true });
      const [gx] = record(batchNormGradInputOp, [dy, x, stat(26), mu, v, ...params, y], {
        epsilon: 1e-3,
        reluMask: true,
      });
      await expectMatchesReference([...params, gx], tol, 'masked bn backward');
      expect(() => record(batchNormGradParamsOp, [dy, x, mu, v], { epsilon: 1e-3, reluMask: true })).toThrow(
        /batchNormGradParams: expected 5 inputs \(with the mask y\), got 4/,
      );
      expect(() =>
        record(batchNormGradParamsOp, [dy, x, mu, v, leaf([3, 5, 6], 27)], { epsilon: 1e-3, reluMask: true }),
      ).toThrow(/the mask y \[3,5,6\] must be float32 of dy's shape \[3,5,7\]/);
    } finally {
      release();
    }
  });
});

describe('reluMask: what stays apart, switches, dispatch counts', () => {
  it('keeps the reluBackward when a tensor holds its result or another kernel reads it', async () => {
    const build = (held: boolean) => () => {
      const y = relu(leaf([2, 4, 4, 3], 31));
      const g = reluBackward(leaf([2, 4, 4, 3], 32), y);
      const kept = held ? keep(g) : g;
      const [dw] = record(conv2dBackpropFilterOp, [leaf([2, 4, 4, 2], 33), kept], {
        ...convAttrs('conv2d', { padding: 'same' }),
        filterShape: [3, 3, 2, 3],
      });
      return held ? [dw] : [dw, add(g, 1)];
    };
    // The relu before joins the reluBackward's kernel (elementwise pass); the conv reads the stored gradient.
    for (const held of [true, false]) {
      const { kernels } = await withFusion(true, build(held));
      expect(kernels, `held ${held}`).toContain('relu+reluBackward');
      expect(kernels, `held ${held}`).toContain('conv2dBackpropFilter');
    }
  });

  it('leaves a fan-in sum before the mask to the epilogue or elementwise pass, or masks when that is off', async () => {
    // z = relu(a) read by two convs: its gradient is the sum of two dx, then masked for the batch norm before.
    const build = () => {
      const x = leaf([1, 4, 4, 3], 41);
      const w = keep(tensor(seeded(27 * 4, 42), [3, 3, 3, 4], { requiresGrad: true }));
      const gamma = keep(tensor(seeded(4, 43), [4], { requiresGrad: true }));
      const bn = {
        gamma,
        beta: keep(zeros([4])),
        runningMean: keep(zeros([4])),
        runningVar: keep(ones([4])),
      };
      const z = relu(batchNorm(conv2d(x, w, { padding: 'same' }), { ...bn, training: true }));
      const v1 = keep(leaf([3, 3, 4, 2], 44));
      const v2 = keep(leaf([1, 1, 4, 2], 45));
      const loss = mean(add(conv2d(z, v1, { padding: 'same' }), conv2d(z, v2)));
      // v1 and v2 get no gradient: z's gradient is a sum of two conv dx.
      loss.backward();
      return [w.grad!, gamma.grad!];
    };
    // With every pass on, the sum and the mask go into the store of the later conv's dx (the epilogue pass).
    const all = await withFusion(true, build);
    expect(all.kernels).toContain('conv2dBackpropInput+add+reluBackward');
    const chained = await withFusion({ epilogue: false }, build);
    // (relu, no longer in the batch norm's store, joins the chain: relu+add+reluBackward.)
    expect(chained.kernels.some((k) => k.endsWith('add+reluBackward'))).toBe(true);
    await expectFused({ epilogue: false }, build, chained.kernels, 'fan-in, chained');
    const noChains = await withFusion({ elementwise: false }, build);
    expect(noChains.kernels).toContain('reluBackward+batchNormGrad');
    await expectFused({ elementwise: false }, build, noChains.kernels, 'fan-in, masked');
    await expectFused(true, build, all.kernels, 'fan-in, in the store');
  });

  it('switched off gives the unfused plan; on, one dispatch fewer per mask', async () => {
    const build = bnBlock([2, 5, 6, 3], 5);
    // Without the epilogue pass, which would store the mask in the second conv's dx instead.
    const off = await withFusion({ reluMask: false, epilogue: false }, build);
    expect(off.kernels).toContain('reluBackward');
    expect(off.kernels.some((k) => k.startsWith('reluBackward+'))).toBe(false);
    const count = async (reluMask: boolean) => {
      release();
      await init({ poisonBuffers: true, fusion: { reluMask, epilogue: false } });
      try {
        const run = async () => {
          const outs: Tensor[] = tidy(build);
          await Promise.all(outs.map((t) => t.data()));
        };
        await run();
        const before = stats().dispatches;
        await run();
        return stats().dispatches - before;
      } finally {
        release();
      }
    };
    expect((await count(false)) - (await count(true))).toBe(1);
  });

  it('generates the mask region from one checked helper', () => {
    const r = reluMaskRegion('vec4f', 4);
    expect(r.DY).toContain('@group(0) @binding(4) var<storage, read> maskY: array<vec4f>;');
    expect(r.DY).toContain('select(vec4f(0.0), dy[j], maskY[j] > vec4f(0.0))');
    expect(() => reluMaskRegion('f16' as never, 4)).toThrow(/bad type 'f16'/);
    expect(() => reluMaskRegion('f32', 0)).toThrow(/binding must be an integer >= 1/);
  });
});
