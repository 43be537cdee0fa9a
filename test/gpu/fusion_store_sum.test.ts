// The epilogue pass's store sums: a fan-in gradient sum and the reluBackward after it run in the store of the conv
// backprop-input kernel computing a term, every variant, against the unfused graph and the float64 reference.
import { describe, expect, it } from 'vitest';
import {
  add,
  conv2d,
  explain,
  gradcheck,
  init,
  mean,
  relu,
  release,
  tensor,
  tidy,
  type Tensor,
} from '../../src/index.js';
import { record } from '../../src/graph/record.js';
import { convAttrs, type Conv2dOptions } from '../../src/ops/conv2d.js';
import {
  backpropInputPlan,
  conv2dBackpropInputOp,
  type BackpropInputAttrs,
  type BackpropInputChoice,
} from '../../src/ops/conv2d_backprop_input.js';
import { convDims } from '../../src/ops/conv_geometry.js';
import { reluBackward } from '../../src/ops/relu.js';
import { storeSumRegion } from '../../src/ops/store_sum.js';
import type { KernelIO } from '../../src/ops/types.js';
import { DEFAULT_WGTILE } from '../../src/ops/wgtile.js';
import { seeded } from '../helpers.js';
import { expectFused, leaf, withFusion } from './fusion_epilogue_helpers.js';

type ConvCase = [string, number[], number[], Conv2dOptions];
const CASES: ConvCase[] = [
  ["3 -> 5 channels, 3x3 'same' stride 2", [2, 7, 6, 3], [3, 3, 3, 5], { stride: 2, padding: 'same' }],
  ['8 -> 12, 3x3 valid, batch 1', [1, 6, 7, 8], [3, 3, 8, 12], {}],
  ['1x1, 8 -> 4, stride 2', [2, 7, 5, 8], [1, 1, 8, 4], { stride: 2 }],
  ["4 -> 8, 2x2 'same', dilation 2", [2, 5, 6, 4], [2, 2, 4, 8], { padding: 'same', dilation: 2 }],
];

/** Every dx choice that runs these channels. */
function choices(cin: number, cout: number): BackpropInputChoice[] {
  const list: BackpropInputChoice[] = [
    { variant: 'scalar', tm: 4, tn: Math.min(cin, 4) },
    { variant: 'wgtile', tile: DEFAULT_WGTILE },
  ];
  if (cin % 4 === 0 && cout % 4 === 0) list.push({ variant: 'vec4', tm: 4, tn: 2 }, { variant: 'vec4_regs' });
  return list;
}

describe('store sum: the fan-in sum and its ReLU mask in the conv backprop-input store', () => {
  for (const [name, xs, ws, opts] of CASES) {
    it(name, async () => {
      const attrs = convAttrs('conv2d', opts);
      const d = convDims('conv2d', xs, ws, attrs);
      for (const choice of choices(d.cin, d.cout)) {
        const op = {
          ...conv2dBackpropInputOp,
          forward: (io: KernelIO, a: BackpropInputAttrs) => backpropInputPlan(io, d, choice, a.storeSum),
        };
        const bpi = (dy: Tensor, w: Tensor) => record(op, [dy, w], { ...attrs, inputShape: xs })[0];
        const label = `${name}, ${JSON.stringify(choice)}`;
        // The workgroup-tiled kernel runs one dispatch per stride phase.
        const phases = choice.variant === 'wgtile' ? Math.min(d.sh, d.h) * Math.min(d.sw, d.w) : 1;
        const times = (k: string) => Array.from({ length: phases }, () => k);
        // relu's output y (exact zeros of the pre-activation too), the shortcut's gradient, then the sum and mask.
        const masked = () => {
          const y = relu(leaf(xs, 1));
          const dx = bpi(leaf([d.n, d.oh, d.ow, d.cout], 2), leaf(ws, 3));
          return [y, reluBackward(add(leaf(xs, 4), dx), y)];
        };
        await expectFused(true, masked, ['relu', ...times('conv2dBackpropInput+add+reluBackward')], label);
        // Four terms, the kernel's one in the middle (Inception's branches), no mask.
        const four = () => {
          const dx = bpi(leaf([d.n, d.oh, d.ow, d.cout], 5), leaf(ws, 6));
          return [add(add(add(leaf(xs, 7), dx), leaf(xs, 8)), leaf(xs, 9))];
        };
        await expectFused(true, four, times('conv2dBackpropInput+add+add+add'), `${label}, four terms`);
        // The mask alone (a reader that takes no mask reads the reluBackward).
        const alone = () => {
          const y = relu(leaf(xs, 10));
          return [y, reluBackward(bpi(leaf([d.n, d.oh, d.ow, d.cout], 11), leaf(ws, 12)), y)];
        };
        await expectFused(
          true,
          alone,
          ['relu', ...times('conv2dBackpropInput+reluBackward')],
          `${label}, mask alone`,
        );
      }
    });
  }

  it('stays unfused with the epilogue pass off, when a tensor holds a term, and when a term comes later', async () => {
    const xs = [2, 6, 6, 4];
    const ws = [3, 3, 4, 4];
    const opts = { padding: 'same' as const };
    const build = () => {
      const y = relu(leaf(xs, 21));
      const dx = conv2d(leaf(xs, 22), leaf(ws, 23), opts);
      return [y, reluBackward(add(leaf(xs, 24), grad(dx, ws, opts)), y)];
    };
    const off = await withFusion({ epilogue: false }, build);
    expect(off.kernels).toContain('add+reluBackward');
    // The kernel's value held by a tensor: it must be stored as it is.
    const held = () => {
      const y = relu(leaf(xs, 21));
      const g = grad(conv2d(leaf(xs, 22), leaf(ws, 23), opts), ws, opts);
      return [y, g, reluBackward(add(leaf(xs, 24), g), y)];
    };
    expect((await withFusion(true, held)).kernels).toContain('add+reluBackward');
    // Both terms from backprop-input kernels: the later one stores the sum.
    const both = () => {
      const y = relu(leaf(xs, 21));
      const a = grad(leaf(xs, 25), ws, opts);
      const b = grad(leaf(xs, 26), ws, opts);
      return [y, reluBackward(add(a, b), y)];
    };
    await expectFused(
      true,
      both,
      ['relu', 'conv2dBackpropInput', 'conv2dBackpropInput+add+reluBackward'],
      'two',
    );
  });

  it('passes gradcheck through a fan-in of two convs after a ReLU', async () => {
    release();
    await init({ poisonBuffers: true });
    const x = param([2, 5, 5, 3], 31);
    const w1 = param([3, 3, 3, 4], 32);
    const w2 = param([3, 3, 4, 4], 33);
    const w3 = param([1, 1, 4, 4], 34);
    const f = (a: Tensor, f1: Tensor, f2: Tensor, f3: Tensor) => {
      const y = relu(conv2d(a, f1, { padding: 'same' }));
      return mean(relu(add(conv2d(y, f2, { padding: 'same' }), conv2d(y, f3))));
    };
    const plan = await explain(() => tidy(() => f(x, w1, w2, w3).backward()));
    // One of the two convs' dx stores their sum and the first relu's mask (and reads its dy through the second's).
    const kernels = plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'));
    expect(kernels).toContain('reluBackward+conv2dBackpropInput+add+reluBackward');
    // A step of 1e-3 crosses some ReLU kinks here (fused and unfused alike); 1e-4 does not.
    const result = await gradcheck(f, [x, w1, w2, w3], { eps: 1e-4, atol: 1e-3, rtol: 1e-2 });
    expect(result.mismatches).toEqual([]);
    expect(result.checked).toBeGreaterThan(0);
    release();
  });

  it('generates the store for each type and refuses a tree that skips a term', () => {
    const region = storeSumRegion('vec4f', 5, 'dx', { tree: [[0, 'acc'], 1], terms: 2, mask: true }).STORE;
    expect(region).toContain('@group(0) @binding(5) var<storage, read> sumTerm0: array<vec4f>;');
    expect(region).toContain('@group(0) @binding(7) var<storage, read> storeY: array<vec4f>;');
    expect(region).toContain(
      'dx[j] = select(vec4f(0.0), ((sumTerm0[j] + acc) + sumTerm1[j]), storeY[j] > vec4f(0.0));',
    );
    expect(() => storeSumRegion('f32', 4, 'dx', { tree: [0, 'acc'], terms: 2, mask: false })).toThrow(
      /each of its 2/,
    );
    expect(() => storeSumRegion('f32', 4, 'dx', { tree: 'acc', terms: 0, mask: false })).not.toThrow();
  });
});

/** The gradient of a conv's input as autograd records it (a conv2dBackpropInput of the same geometry). */
function grad(dy: Tensor, ws: number[], opts: Conv2dOptions): Tensor {
  return record(conv2dBackpropInputOp, [dy, leaf(ws, 27)], {
    ...convAttrs('conv2d', opts),
    inputShape: dy.shape,
  } as BackpropInputAttrs)[0];
}

/** A leaf that gradcheck differentiates. */
function param(shape: number[], seed: number): Tensor {
  return tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    { requiresGrad: true },
  );
}
