// GPU numerics of every conv2d kernel variant and pass vs the float64 reference, over edge-case shapes.
import { describe, expect, it } from 'vitest';
import { conv2d, gradcheck, info, mul, sum, tensor, type Tensor } from '../../src/index.js';
import type { Dispatch } from '../../src/gpu/runtime.js';
import { record } from '../../src/graph/record.js';
import { state } from '../../src/graph/state.js';
import {
  CONV2D_VARIANTS,
  chooseConv2d,
  conv2dCandidates,
  conv2dSupports,
  conv2dOp,
  conv2dPlan,
  convAttrs,
  type Conv2dChoice,
  type Conv2dOptions,
} from '../../src/ops/conv2d.js';
import {
  BACKPROP_FILTER_VARIANTS,
  backpropFilterCandidates,
  backpropFilterPlan,
  backpropFilterSupports,
  chooseBackpropFilter,
  conv2dBackpropFilterOp,
  type BackpropFilterAttrs,
  type BackpropFilterChoice,
} from '../../src/ops/conv2d_backprop_filter.js';
import {
  BACKPROP_INPUT_VARIANTS,
  backpropInputCandidates,
  backpropInputPlan,
  backpropInputSupports,
  chooseBackpropInput,
  conv2dBackpropInputOp,
  type BackpropInputAttrs,
  type BackpropInputChoice,
} from '../../src/ops/conv2d_backprop_input.js';
import { DEFAULT_WGTILE, type WgTile } from '../../src/ops/wgtile.js';
import { convDims, type ConvAttrs, type ConvDims } from '../../src/ops/conv_geometry.js';
import type { KernelIO, OpDef } from '../../src/ops/types.js';
import { expectMatchesReference, requireFeature, seeded, useGpu } from '../helpers.js';

useGpu();
const tol = { atol: 1e-4, rtol: 1e-4 };

function input(shape: readonly number[], seed: number, requiresGrad = false): Tensor {
  return tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    { requiresGrad },
  );
}

const limits = () => state.runtime!.info.limits;

/** A choice as a short label for failure messages. */
function label(c: Conv2dChoice | BackpropInputChoice | BackpropFilterChoice): string {
  return JSON.stringify(c);
}

/** A workgroup tile with a ragged edge everywhere (BM = 12 and BN = 10 divide no test shape) and a 3-deep K step. */
const ODD_TILE: WgTile = { tx: 5, ty: 4, rm: 3, rn: 2, kt: 3 };

/** The op with its forward plan replaced, so a test can run one particular kernel variant. */
function forcing<A>(op: OpDef<A>, plan: (io: KernelIO, attrs: A) => Dispatch[]): OpDef<A> {
  return { ...op, forward: plan };
}

type Case = [string, number[], number[], Omit<Conv2dOptions, 'bias'>];
const cases: Case[] = [
  ['odd sizes, H != W, 3 -> 5 channels', [1, 5, 7, 3], [3, 3, 3, 5], {}],
  ["3x3 'same' stride 2, batch 3", [3, 9, 8, 8], [3, 3, 8, 12], { stride: 2, padding: 'same' }],
  ["2x2 'same'", [2, 8, 7, 4], [2, 2, 4, 8], { padding: 'same' }],
  ["4x4 'same' stride 2", [1, 9, 10, 8], [4, 4, 8, 4], { stride: 2, padding: 'same' }],
  ["dilation 2 'same'", [2, 11, 10, 4], [3, 3, 4, 8], { dilation: 2, padding: 'same' }],
  [
    'explicit paddings',
    [1, 7, 6, 4],
    [3, 3, 4, 4],
    {
      padding: [
        [1, 2],
        [0, 3],
      ],
    },
  ],
  ['1x1 stride-2 projection', [3, 9, 8, 16], [1, 1, 16, 8], { stride: 2 }],
  ['1x1 channel mixing, Cout 20', [2, 5, 9, 12], [1, 1, 12, 20], { padding: 'same' }],
  // Two 16-channel groups and M = 70: the 16-row tiles span images and end ragged.
  ['3x3 two 16-channel groups, M % 16 != 0', [2, 5, 7, 8], [3, 3, 8, 32], { padding: 'same' }],
  ['5x5 padding 2, 5 -> 7 channels', [1, 6, 6, 5], [5, 5, 5, 7], { padding: 2 }],
  ["7x7 stride-2 'same' stem", [1, 13, 12, 3], [7, 7, 3, 8], { stride: 2, padding: 'same' }],
  // One input channel (the ResNet's stem) and Cout 12: an 8-channel tile's second group is clamped; M = 70.
  ["3x3 'same' 1 -> 12 channels", [2, 5, 7, 1], [3, 3, 1, 12], { padding: 'same' }],
  ["7x7 stride-2 'same', vec4", [1, 12, 12, 4], [7, 7, 4, 8], { stride: 2, padding: 'same' }],
  [
    'stride [2,1] with dilation [1,2]',
    [1, 8, 9, 8],
    [3, 3, 8, 4],
    { stride: [2, 1], dilation: [1, 2], padding: 'same' },
  ],
  [
    'stride 3 dilation 2, 6 channels',
    [2, 13, 11, 6],
    [3, 2, 6, 6],
    { stride: 3, dilation: 2, padding: 'same' },
  ],
];

function dimsOf(x: Tensor, wShape: readonly number[], attrs: ConvAttrs): ConvDims {
  return convDims('conv2d', x.shape, wShape, attrs);
}

describe('documented CPU fallbacks (docs/kernels.md)', () => {
  const fwd = (xs: number[], ws: number[], opts: Omit<Conv2dOptions, 'bias'>) =>
    chooseConv2d(true, convDims('conv2d', xs, ws, convAttrs('conv2d', opts))).variant;
  it('forward: 1x1 GEMM, 16-channel tiles where Cout % 16 == 0, 8-channel where Cout % 8 == 0, else vec4 or scalar', () => {
    expect(fwd([1, 8, 8, 64], [1, 1, 64, 32], {})).toBe('gemm1x1');
    expect(fwd([8, 32, 32, 64], [3, 3, 64, 64], { padding: 'same' })).toBe('vec4_regs16');
    // 16-row tiles: one workgroup of 64 invocations; 8-row tiles: two.
    expect(fwd([1, 16, 16, 64], [3, 3, 64, 64], { padding: 'same' })).toBe('vec4_regs');
    // One workgroup either way: the 8-row tile, spread over workgroups of 16.
    expect(
      chooseConv2d(
        true,
        convDims('conv2d', [1, 8, 8, 64], [3, 3, 64, 64], convAttrs('conv2d', { padding: 'same' })),
      ),
    ).toEqual({
      variant: 'vec4_regs',
      wg: 16,
    });
    // 13 invocations of 16 x 16 tiles at batch 8 fill more than one workgroup: unchanged.
    expect(
      chooseConv2d(
        true,
        convDims('conv2d', [8, 8, 8, 64], [3, 3, 64, 64], convAttrs('conv2d', { padding: 'same' })),
      ),
    ).toEqual({
      variant: 'vec4_regs16',
    });
    expect(fwd([1, 16, 16, 3], [7, 7, 3, 64], { stride: 2, padding: 'same' })).toBe('cout4_regs');
    expect(fwd([1, 8, 8, 8], [3, 3, 8, 24], { padding: 'same' })).toBe('vec4_regs8');
    expect(fwd([1, 28, 28, 1], [3, 3, 1, 8], { padding: 'same' })).toBe('cout4_regs8');
    expect(fwd([1, 8, 8, 8], [3, 3, 8, 20], { padding: 'same' })).toBe('vec4');
    expect(fwd([1, 8, 8, 3], [3, 3, 3, 20], {})).toBe('scalar');
  });
  const bpi = (xs: number[], ws: number[], opts: Omit<Conv2dOptions, 'bias'>) =>
    chooseBackpropInput(true, convDims('conv2d', xs, ws, convAttrs('conv2d', opts))).variant;
  it('backprop input: the fixed tile for stride 1 and Cin % 8 == 0, else vec4 or scalar', () => {
    expect(bpi([1, 8, 8, 64], [3, 3, 64, 64], { padding: 'same' })).toBe('vec4_regs');
    expect(bpi([1, 8, 8, 64], [3, 3, 64, 128], { stride: 2, padding: 'same' })).toBe('vec4');
    expect(bpi([1, 8, 8, 12], [3, 3, 12, 16], { padding: 'same' })).toBe('vec4');
    expect(bpi([1, 16, 16, 3], [7, 7, 3, 64], { stride: 2, padding: 'same' })).toBe('scalar');
  });
});

describe('forward workgroup sizes', () => {
  it('small dispatches get workgroups of 32 and 16 as candidates, big ones do not', () => {
    const small = convDims(
      'conv2d',
      [1, 14, 14, 16],
      [3, 3, 16, 16],
      convAttrs('conv2d', { padding: 'same' }),
    );
    const big = convDims('conv2d', [8, 32, 32, 64], [3, 3, 64, 64], convAttrs('conv2d', { padding: 'same' }));
    const wgs = (d: ConvDims) => conv2dCandidates(d, limits()).map((c) => ('wg' in c ? c.wg : undefined));
    expect(new Set(wgs(small))).toEqual(new Set([undefined, 32, 16]));
    expect(new Set(wgs(big))).toEqual(new Set([undefined]));
  });
  it('refuses a workgroup size that is not offered', () => {
    const d = convDims('conv2d', [1, 14, 14, 16], [3, 3, 16, 16], convAttrs('conv2d', { padding: 'same' }));
    expect(() => conv2dPlan({} as KernelIO, d, { variant: 'vec4_regs', wg: 48 })).toThrow(
      /choice 'wg' must be 64/,
    );
  });
});

describe('forward variants', () => {
  for (const [name, xs, ws, opts] of cases) {
    it(name, async () => {
      const x = input(xs, 1);
      const w = input(ws, 2);
      const bias = input([ws[3]], 3);
      const attrs = convAttrs('conv2d', opts);
      const d = dimsOf(x, ws, attrs);
      const choices: Conv2dChoice[] = [
        ...conv2dCandidates(d, limits()),
        chooseConv2d(true, d),
        chooseConv2d(false, d),
        { variant: 'wgtile', tile: ODD_TILE },
      ];
      // The subgroup variant is a candidate only where the adapter has the feature (its own cases are below).
      const subgroups = info().features.includes('subgroups');
      const supported = CONV2D_VARIANTS.filter(
        (v) => conv2dSupports(v, d) && (subgroups || v !== 'wgtile_subgroup'),
      );
      expect(new Set(choices.map((c) => c.variant))).toEqual(new Set(supported));
      for (const choice of choices) {
        const op = forcing(conv2dOp, (io) => conv2dPlan(io, d, choice));
        const [y] = record(op, [x, w], attrs);
        const [yb] = record(op, [x, w, bias], attrs);
        await expectMatchesReference([y, yb], tol, label(choice));
      }
    });
  }
});

describe('forward wgtile_subgroup variant', () => {
  // The default tile, a narrower one, and ODD_TILE, whose TX = 5 no subgroup size divides: there the kernel's
  // survey falls back to one-lane groups, so both of its paths are checked.
  const tiles: WgTile[] = [DEFAULT_WGTILE, { tx: 8, ty: 8, rm: 4, rn: 4, kt: 16 }, ODD_TILE];
  for (const [name, xs, ws, opts] of cases) {
    it(name, async (ctx) => {
      requireFeature(ctx, 'subgroups');
      const x = input(xs, 1);
      const w = input(ws, 2);
      const bias = input([ws[3]], 3);
      const attrs = convAttrs('conv2d', opts);
      const d = dimsOf(x, ws, attrs);
      for (const tile of tiles) {
        const choice: Conv2dChoice = { variant: 'wgtile_subgroup', tile };
        const op = forcing(conv2dOp, (io) => conv2dPlan(io, d, choice));
        const [y] = record(op, [x, w], attrs);
        const [yb] = record(op, [x, w, bias], attrs);
        await expectMatchesReference([y, yb], tol, label(choice));
      }
    });
  }
});

describe('backprop input variants (strides split into phases)', () => {
  for (const [name, xs, ws, opts] of cases) {
    it(name, async () => {
      const attrs: BackpropInputAttrs = { ...convAttrs('conv2d', opts), inputShape: xs };
      const d = convDims('conv2d', xs, ws, attrs);
      const dy = input([d.n, d.oh, d.ow, d.cout], 4);
      const w = input(ws, 5);
      const choices: BackpropInputChoice[] = [
        ...backpropInputCandidates(d, limits()),
        chooseBackpropInput(true, d),
        chooseBackpropInput(false, d),
        { variant: 'wgtile', tile: ODD_TILE },
      ];
      for (const variant of ['vec4', 'scalar'] as const) {
        if (!backpropInputSupports(variant, d)) continue;
        for (const [tm, tn] of [
          [1, 1],
          [8, 4],
        ]) {
          choices.push({ variant, tm, tn });
        }
      }
      const tried = new Set(choices.map((c) => c.variant));
      expect(tried).toEqual(new Set(BACKPROP_INPUT_VARIANTS.filter((v) => backpropInputSupports(v, d))));
      for (const choice of choices) {
        const op = forcing(conv2dBackpropInputOp, (io) => backpropInputPlan(io, d, choice));
        await expectMatchesReference(record(op, [dy, w], attrs), tol, label(choice));
      }
    });
  }
});

describe('backprop filter variants (split reduction)', () => {
  for (const [name, xs, ws, opts] of cases) {
    it(name, async () => {
      const attrs: BackpropFilterAttrs = { ...convAttrs('conv2d', opts), filterShape: ws };
      const d = convDims('conv2d', xs, ws, attrs);
      const x = input(xs, 6);
      const dy = input([d.n, d.oh, d.ow, d.cout], 7);
      const k = d.n * d.oh * d.ow;
      const choices: BackpropFilterChoice[] = [
        ...backpropFilterCandidates(d, limits()),
        chooseBackpropFilter(true, d),
        chooseBackpropFilter(false, d),
      ];
      for (const chunk of [k, 7, Math.ceil(k / 3)]) {
        for (const variant of BACKPROP_FILTER_VARIANTS.filter((v) => backpropFilterSupports(v, d))) {
          if (variant === 'wgtile') {
            choices.push({ variant, chunk, tile: ODD_TILE }, { variant, chunk, tile: DEFAULT_WGTILE });
          } else if (variant === 'vec4_regs') {
            choices.push({ variant, chunk });
          } else {
            for (const tn of [1, 2, 4]) choices.push({ variant, tn, chunk });
          }
        }
      }
      for (const choice of choices) {
        const op = forcing(conv2dBackpropFilterOp, (io) => backpropFilterPlan(io, d, choice));
        await expectMatchesReference(record(op, [x, dy], attrs), tol, label(choice));
      }
    });
  }
});

describe('grids past 65,535 workgroups', () => {
  // One output per invocation (1x1 tiles) and 64 invocations per workgroup: 260*260*64 / 64 = 67,600 workgroups;
  // dw in chunks of 2 gives 33,800 parts per weight (llvmpipe cuts loops past 65,535 iterations).
  it('forward, backprop input and backprop filter', async () => {
    const x = input([1, 260, 260, 1], 8);
    const w = input([1, 1, 1, 64], 9);
    const attrs = convAttrs('conv2d', {});
    const d = dimsOf(x, w.shape, attrs);
    const fwd = forcing(conv2dOp, (io) => conv2dPlan(io, d, { variant: 'scalar', tm: 1, tn: 1 }));
    await expectMatchesReference(record(fwd, [x, w], attrs), tol, 'forward');

    const xt = input([1, 260, 260, 64], 10);
    const wt = input([1, 1, 64, 1], 11);
    const dt = convDims('conv2d', xt.shape, wt.shape, attrs);
    const dy = input([1, 260, 260, 1], 12);
    const bpi = forcing(conv2dBackpropInputOp, (io) =>
      backpropInputPlan(io, dt, { variant: 'scalar', tm: 1, tn: 1 }),
    );
    await expectMatchesReference(record(bpi, [dy, wt], { ...attrs, inputShape: xt.shape }), tol, 'dx');

    const dy2 = input([1, 260, 260, 64], 13);
    const bpf = forcing(conv2dBackpropFilterOp, (io) =>
      backpropFilterPlan(io, d, { variant: 'scalar', tn: 1, chunk: 2 }),
    );
    await expectMatchesReference(
      record(bpf, [x, dy2], { ...attrs, filterShape: w.shape }),
      { atol: 1e-3, rtol: 1e-4 },
      'dw',
    );

    // The workgroup-tiled kernels with one output per workgroup: 67,600 workgroups each.
    const one: WgTile = { tx: 1, ty: 1, rm: 1, rn: 1, kt: 1 };
    const fwdTiled = forcing(conv2dOp, (io) => conv2dPlan(io, d, { variant: 'wgtile', tile: one }));
    await expectMatchesReference(record(fwdTiled, [x, w], attrs), tol, 'forward wgtile');
    const bpiTiled = forcing(conv2dBackpropInputOp, (io) =>
      backpropInputPlan(io, dt, { variant: 'wgtile', tile: one }),
    );
    await expectMatchesReference(
      record(bpiTiled, [dy, wt], { ...attrs, inputShape: xt.shape }),
      tol,
      'dx wgtile',
    );
    const bpfTiled = forcing(conv2dBackpropFilterOp, (io) =>
      backpropFilterPlan(io, d, { variant: 'wgtile', tile: one, chunk: 2 }),
    );
    await expectMatchesReference(
      record(bpfTiled, [x, dy2], { ...attrs, filterShape: w.shape }),
      { atol: 1e-3, rtol: 1e-4 },
      'dw wgtile',
    );
  });
});

describe('autograd through conv2d', () => {
  it('gradients of x, w and bias match finite differences of the reference', async () => {
    const x = input([2, 6, 5, 3], 14);
    const w = input([3, 2, 3, 4], 15);
    const b = input([4], 16);
    const res = await gradcheck(
      (xx, ww, bb) => conv2d(xx, ww, { stride: 2, padding: 'same', bias: bb }),
      [x, w, b],
    );
    expect(res.mismatches).toEqual([]);
    expect(res.ok).toBe(true);
  });

  it('conv2d picks the chosen kernel by itself and keeps the backward graph on the GPU', async () => {
    const x = input([2, 8, 8, 8], 17, true);
    const w = input([3, 3, 8, 8], 18, true);
    const b = input([8], 19, true);
    const y = conv2d(x, w, { padding: 'same', bias: b });
    sum(mul(y, y)).backward();
    await expectMatchesReference([y, x.grad!, w.grad!, b.grad!], tol);
  });
});
