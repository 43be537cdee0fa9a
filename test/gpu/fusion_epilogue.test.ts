// The epilogue pass: bias, batch-norm apply, residual add and ReLU in the store of every conv and GEMM variant and
// of batch norm, each fused kernel against the unfused graph and the float64 reference; training gradients unchanged.
import { describe, expect, it } from 'vitest';
import { add, batchNorm, conv2d, dense, matmul, mean, relu, type Tensor } from '../../src/index.js';
import { record } from '../../src/graph/record.js';
import {
  conv2dOp,
  conv2dPlan,
  conv2dChoiceOf,
  conv2dSupports,
  convAttrs,
  type Conv2dChoice,
  type Conv2dOptions,
} from '../../src/ops/conv2d.js';
import { convDims } from '../../src/ops/conv_geometry.js';
import { epilogueRegions } from '../../src/ops/epilogue.js';
import type { MatmulKernel } from '../../src/ops/matmul.js';
import { expectClose, expectMatchesReference } from '../helpers.js';
import { expectFused, leaf, withFusion } from './fusion_epilogue_helpers.js';

interface Chain {
  bias: boolean;
  bn: boolean;
  add: 'left' | 'right' | null;
  relu: boolean;
}

const CHAINS: Chain[] = [
  { bias: true, bn: true, add: 'left', relu: true },
  { bias: false, bn: true, add: 'right', relu: true },
  { bias: false, bn: true, add: null, relu: true },
  { bias: true, bn: false, add: null, relu: true },
  { bias: false, bn: false, add: 'right', relu: false },
  { bias: true, bn: true, add: 'left', relu: false },
];

/** The ops a chain's followers appear as in the plan. */
const chainOps = (c: Chain) =>
  [c.bn && 'batchNormInference', c.add && 'add', c.relu && 'relu'].filter((o): o is string => !!o);

/** The chain's followers applied to a producer's output y. */
function applyChain(y: Tensor, c: Chain, seed: number): Tensor {
  const ch = y.shape[y.shape.length - 1];
  if (c.bn) {
    y = batchNorm(y, {
      gamma: leaf([ch], seed, 0.5, 1.5),
      beta: leaf([ch], seed + 1),
      runningMean: leaf([ch], seed + 2),
      runningVar: leaf([ch], seed + 3, 0.5, 2),
      training: false,
      epsilon: 1e-5,
    });
  }
  if (c.add) {
    const r = leaf([...y.shape], seed + 4);
    y = c.add === 'left' ? add(y, r) : add(r, y);
  }
  return c.relu ? relu(y) : y;
}

const chainName = (c: Chain) =>
  [c.bias && 'bias', c.bn && 'bn', c.add && `add(${c.add})`, c.relu && 'relu'].filter(Boolean).join('+');

type ConvCase = [string, number[], number[], Omit<Conv2dOptions, 'bias'>, Conv2dChoice['variant']];
const CONV_CASES: ConvCase[] = [
  [
    "scalar: 3 -> 5 channels, 3x3 'same' stride 2",
    [2, 7, 6, 3],
    [3, 3, 3, 5],
    { stride: 2, padding: 'same' },
    'scalar',
  ],
  [
    'vec4: 8 -> 12, 3x3 explicit padding',
    [1, 6, 7, 8],
    [3, 3, 8, 12],
    {
      padding: [
        [1, 0],
        [2, 1],
      ],
    },
    'vec4',
  ],
  ['gemm1x1: 8 -> 4, stride 2', [2, 7, 5, 8], [1, 1, 8, 4], { stride: 2 }, 'gemm1x1'],
  ["vec4_regs: 8 -> 20, 3x3 'same', M = 42", [1, 6, 7, 8], [3, 3, 8, 20], { padding: 'same' }, 'vec4_regs'],
  ['vec4_regs8: 4 -> 12, 2x2 stride 2, M = 9', [1, 7, 6, 4], [2, 2, 4, 12], { stride: 2 }, 'vec4_regs8'],
  [
    "vec4_regs16: 8 -> 20, 3x3 'same', M = 42",
    [1, 6, 7, 8],
    [3, 3, 8, 20],
    { padding: 'same' },
    'vec4_regs16',
  ],
  [
    "cout4_regs: 3 -> 12, 3x3 'same' stride 2",
    [2, 7, 6, 3],
    [3, 3, 3, 12],
    { stride: 2, padding: 'same' },
    'cout4_regs',
  ],
  [
    "cout4_regs8: 1 -> 12, 3x3 'same', M = 35",
    [1, 5, 7, 1],
    [3, 3, 1, 12],
    { padding: 'same' },
    'cout4_regs8',
  ],
  ["wgtile: 5 -> 6, 2x2 'same'", [2, 5, 6, 5], [2, 2, 5, 6], { padding: 'same' }, 'wgtile'],
];

describe('conv2d epilogues, every forward variant', () => {
  for (const [name, xs, ws, opts, variant] of CONV_CASES) {
    it(name, async () => {
      const attrs = convAttrs('conv2d', opts);
      const d = convDims('conv2d', xs, ws, attrs);
      expect(conv2dSupports(variant, d)).toBe(true);
      const choice: Conv2dChoice = conv2dChoiceOf(true, variant);
      const forced = {
        ...conv2dOp,
        forward: (io: Parameters<typeof conv2dPlan>[0]) => conv2dPlan(io, d, choice),
      };
      for (const c of CHAINS) {
        const build = () => {
          const x = leaf(xs, 1);
          const w = leaf(ws, 2);
          const inputs = c.bias ? [x, w, leaf([ws[3]], 3)] : [x, w];
          const [y] = record(forced, inputs, attrs);
          return [applyChain(y, c, 10)];
        };
        // foldBatchNorm off: the batch norm runs in the conv's store (a forced variant is never folded anyway).
        const kernel = ['conv2d', ...chainOps(c)].join('+');
        await expectFused({ foldBatchNorm: false }, build, [kernel], `${name}, ${chainName(c)}`);
      }
    });
  }
});

describe('GEMM epilogues, every variant', () => {
  const kernels: MatmulKernel[] = ['register', 'tiled', 'wgtile'];
  // N = 12 takes the vec4 register kernel, N = 7 the scalar one.
  for (const n of [12, 7]) {
    for (const kernel of kernels) {
      it(`${kernel}, N = ${n}: dense bias + bn + add + relu, matmul + relu`, async () => {
        const build = () => {
          const x = leaf([5, 9], 1);
          const w = leaf([9, n], 2);
          const d = applyChain(dense(x, w, leaf([n], 3), { kernel }), CHAINS[0], 20);
          const m = relu(matmul(x, w, { kernel, transposeB: false }));
          return [d, m];
        };
        await expectFused(
          true,
          build,
          ['dense+batchNormInference+add+relu', 'matmul+relu'],
          `${kernel} N=${n}`,
        );
      });
    }
  }
});

describe('chains the pass must not fuse', () => {
  it('keeps a value another node reads, a broadcast add and an add of a value with itself unfused', async () => {
    const build = () => {
      const x = leaf([1, 5, 5, 4], 1);
      const w = leaf([3, 3, 4, 4], 2);
      const y = conv2d(x, w, { padding: 'same' });
      const shared = add(relu(y), y); // y has two readers: neither follows the conv alone
      const z = conv2d(x, w, { padding: 'same' });
      const broadcast = add(z, leaf([4], 3)); // [C] residual: not the output's shape
      const h = conv2d(x, w);
      const twice = add(h, h);
      return [shared, broadcast, twice];
    };
    // The elementwise pass would fuse relu+add (a chain of its own): this is about the epilogue pass.
    const kernels = ['conv2d', 'relu', 'add', 'conv2d', 'add', 'conv2d', 'add'];
    await expectFused({ elementwise: false }, build, kernels, 'not fused');
  });

  it('waits for the residual: an add whose other input is computed after the conv is not fused into it', async () => {
    const build = () => {
      const x = leaf([1, 4, 4, 4], 1);
      const w = leaf([1, 1, 4, 4], 2);
      const y = conv2d(x, w);
      const later = relu(conv2d(x, w)); // recorded after y's conv
      return [add(y, later)];
    };
    await expectFused(true, build, ['conv2d', 'conv2d+relu', 'add'], 'late residual');
  });
});

describe('training: what the data flow allows', () => {
  /** A residual block in training mode; returns the loss and the gradients of every parameter. */
  function block(): Tensor[] {
    const x = leaf([2, 6, 6, 4], 1);
    const w1 = leaf([3, 3, 4, 4], 2);
    const w2 = leaf([3, 3, 4, 4], 3);
    const params = [w1, w2];
    for (const t of params) t.requiresGrad = true;
    const bn = (seed: number) => {
      const g = leaf([4], seed, 0.5, 1.5);
      const b = leaf([4], seed + 1);
      g.requiresGrad = true;
      b.requiresGrad = true;
      params.push(g, b);
      return { gamma: g, beta: b, runningMean: leaf([4], seed + 2), runningVar: leaf([4], seed + 3, 0.5, 2) };
    };
    const h = relu(batchNorm(conv2d(x, w1, { padding: 'same' }), { ...bn(10), training: true }));
    const y = relu(add(batchNorm(conv2d(h, w2, { padding: 'same' }), { ...bn(20), training: true }), x));
    const loss = mean(y);
    loss.backward();
    return [loss, ...params.map((p) => p.grad!)];
  }

  it('runs batch-norm apply + add + relu as one kernel after the statistics, gradients unchanged', async () => {
    const reference = (outs: Tensor[]) => expectMatchesReference(outs, { atol: 1e-4, rtol: 1e-3 }, 'train');
    const off = await withFusion(false, block, reference);
    const on = await withFusion(true, block, reference);
    expect(on.kernels).toContain('batchNormTrainUpdate+add+relu');
    expect(on.kernels).toContain('batchNormTrainUpdate+relu');
    expect(on.kernels.length).toBeLessThan(off.kernels.length);
    on.values.forEach((v, i) =>
      expectClose(v, off.values[i], { atol: 1e-5, rtol: 1e-4 }, `train output ${i}`),
    );
  });
});

describe('the generator', () => {
  it('refuses a bad epsilon or output name, and binds only what the chain needs', () => {
    const buffer = {} as GPUBuffer;
    const bn = { gamma: buffer, beta: buffer, mean: buffer, variance: buffer, epsilon: 0 };
    expect(() => epilogueRegions('f32', 3, false, { bn, residual: null, relu: false })).toThrow(
      /batch-norm epsilon must be a positive number/,
    );
    expect(() => epilogueRegions('f32', 3, false, { bn: null, residual: null, relu: true }, 'o ut')).toThrow(
      /bad output name/,
    );
    const r = epilogueRegions('vec4f', 3, true, { bn: null, residual: buffer, relu: true });
    expect(r.BINDINGS.split('\n')).toEqual([
      '@group(0) @binding(3) var<storage, read> epBias: array<vec4f>;',
      '@group(0) @binding(4) var<storage, read> epResidual: array<vec4f>;',
      '@group(0) @binding(5) var<storage, read_write> out: array<vec4f>;',
    ]);
    // ReLU keeps NaN: the max is bypassed where the bits are a NaN's.
    expect(r.EPILOGUE).toContain(
      'v = select(max(v, vec4f(0.0)), v, (bitcast<vec4u>(v) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u));',
    );
  });
});
