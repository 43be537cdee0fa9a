// The benchmark's rows for the generated elementwise kernels and the reductions at ResNet activation shapes.
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Wg from '../src/index.js';
import type { Prepared, RowSpec } from './harness.js';
import { disposer, fmt, pair, size } from './row_util.js';

/** A ResNet stage-1 activation (batch 32, 56x56, 64 channels) and a stage-2 one (28x28, 128 channels). */
const STAGE1 = [32, 56, 56, 64];
const STAGE2 = [32, 28, 28, 128];

type Range = [number, number];

interface UnaryCase {
  op: string;
  /** Arithmetic per element, roughly (a transcendental counts as a few). */
  flops: number;
  webgrad(wg: typeof Wg, x: Wg.Tensor): Wg.Tensor;
  tfjs(tf: typeof Tf, x: Tf.Tensor): Tf.Tensor;
}

const UNARY: UnaryCase[] = [
  { op: 'exp', flops: 1, webgrad: (wg, x) => wg.exp(x), tfjs: (tf, x) => tf.exp(x) },
  { op: 'sigmoid', flops: 4, webgrad: (wg, x) => wg.sigmoid(x), tfjs: (tf, x) => tf.sigmoid(x) },
  { op: 'tanh', flops: 5, webgrad: (wg, x) => wg.tanh(x), tfjs: (tf, x) => tf.tanh(x) },
  {
    op: 'gelu',
    flops: 16,
    webgrad: (wg, x) => wg.gelu(x),
    // tfjs-core has no gelu: a tfjs user composes the erf form.
    tfjs: (tf, x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))),
  },
];

interface BinaryCase {
  op: string;
  bShape: number[];
  bRange?: Range;
  webgrad(wg: typeof Wg, a: Wg.Tensor, b: Wg.Tensor): Wg.Tensor;
  tfjs(tf: typeof Tf, a: Tf.Tensor, b: Tf.Tensor): Tf.Tensor;
}

const C = STAGE1[3];
const BINARY: BinaryCase[] = [
  { op: 'add', bShape: STAGE1, webgrad: (wg, a, b) => wg.add(a, b), tfjs: (tf, a, b) => tf.add(a, b) },
  // Divisors in [0.5, 1.5): no quotient blows up, so the two engines' values compare.
  {
    op: 'div',
    bShape: STAGE1,
    bRange: [0.5, 1.5],
    webgrad: (wg, a, b) => wg.div(a, b),
    tfjs: (tf, a, b) => tf.div(a, b),
  },
  {
    op: 'maximum',
    bShape: STAGE1,
    webgrad: (wg, a, b) => wg.maximum(a, b),
    tfjs: (tf, a, b) => tf.maximum(a, b),
  },
  // A per-channel operand [C], as a bias or a normalization broadcast over N, H, W.
  { op: 'add', bShape: [C], webgrad: (wg, a, b) => wg.add(a, b), tfjs: (tf, a, b) => tf.add(a, b) },
  {
    op: 'div',
    bShape: [C],
    bRange: [0.5, 1.5],
    webgrad: (wg, a, b) => wg.div(a, b),
    tfjs: (tf, a, b) => tf.div(a, b),
  },
  {
    op: 'greater',
    bShape: STAGE1,
    webgrad: (wg, a, b) => wg.greater(a, b),
    tfjs: (tf, a, b) => tf.greater(a, b),
  },
  {
    op: 'where(greater)',
    bShape: STAGE1,
    webgrad: (wg, a, b) => wg.where(wg.greater(a, b), a, b),
    tfjs: (tf, a, b) => tf.where(tf.greater(a, b), a, b),
  },
];

function elementwiseRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const n = size(STAGE1);
  const unary = UNARY.map((u, k): RowSpec => ({
    op: u.op,
    pass: 'forward',
    shape: fmt(STAGE1),
    flops: u.flops * n,
    bytes: 8 * n,
    prepare(): Prepared {
      const x = pair(wg, tf, STAGE1, 600 + k);
      return {
        webgrad: () => u.webgrad(wg, x.w),
        tfjs: () => u.tfjs(tf, x.t),
        dispose: disposer(x.w, x.t),
      };
    },
  }));
  const binary = BINARY.map((c, k): RowSpec => ({
    op: c.op,
    pass: 'forward',
    shape: `${fmt(STAGE1)} ${fmt(c.bShape)}`,
    flops: n,
    bytes: 4 * (2 * n + size(c.bShape)),
    prepare(): Prepared {
      const a = pair(wg, tf, STAGE1, 620 + 2 * k);
      const b = pair(wg, tf, c.bShape, 621 + 2 * k, false, c.bRange);
      return {
        webgrad: () => c.webgrad(wg, a.w, b.w),
        // tfjs's comparisons give bool tensors; as float32 they read as webgrad's 0/1 masks.
        tfjs: () => tf.cast(c.tfjs(tf, a.t, b.t), 'float32'),
        dispose: disposer(a.w, a.t, b.w, b.t),
      };
    },
  }));
  return [...unary, ...binary];
}

interface ReduceCase {
  op: string;
  /** What the shape column says about the axes. */
  axes: string;
  outSize: number;
  flops: number;
  webgrad(wg: typeof Wg, x: Wg.Tensor): Wg.Tensor;
  tfjs(tf: typeof Tf, x: Tf.Tensor): Tf.Tensor;
}

function reduceCases(): ReduceCase[] {
  const [n, h, w, c] = STAGE2;
  const all = size(STAGE2);
  return [
    {
      op: 'sum',
      axes: 'axis [1,2]',
      outSize: n * c,
      flops: all,
      webgrad: (wg, x) => wg.sum(x, { axis: [1, 2] }),
      tfjs: (tf, x) => tf.sum(x, [1, 2]),
    },
    {
      op: 'sum',
      axes: 'axis [0,1,2]',
      outSize: c,
      flops: all,
      webgrad: (wg, x) => wg.sum(x, { axis: [0, 1, 2] }),
      tfjs: (tf, x) => tf.sum(x, [0, 1, 2]),
    },
    {
      op: 'sum',
      axes: 'axis [0,2]',
      outSize: h * c,
      flops: all,
      webgrad: (wg, x) => wg.sum(x, { axis: [0, 2] }),
      tfjs: (tf, x) => tf.sum(x, [0, 2]),
    },
    {
      op: 'max',
      axes: 'axis [1,2]',
      outSize: n * c,
      flops: all,
      webgrad: (wg, x) => wg.max(x, { axis: [1, 2] }),
      tfjs: (tf, x) => tf.max(x, [1, 2]),
    },
    {
      op: 'max',
      axes: 'axis [0,2]',
      outSize: h * c,
      flops: all,
      webgrad: (wg, x) => wg.max(x, { axis: [0, 2] }),
      tfjs: (tf, x) => tf.max(x, [0, 2]),
    },
    {
      op: 'mean',
      axes: 'axis -1',
      outSize: n * h * w,
      flops: all,
      webgrad: (wg, x) => wg.mean(x, { axis: -1 }),
      tfjs: (tf, x) => tf.mean(x, -1),
    },
    {
      op: 'argmax',
      axes: 'axis -1',
      outSize: n * h * w,
      flops: all,
      webgrad: (wg, x) => wg.argmax(x, { axis: -1 }),
      tfjs: (tf, x) => tf.argMax(x, -1),
    },
    {
      op: 'variance',
      axes: 'axis [0,1,2]',
      outSize: c,
      flops: 4 * all,
      webgrad: (wg, x) => wg.variance(x, { axis: [0, 1, 2] }),
      tfjs: (tf, x) => tf.moments(x, [0, 1, 2]).variance,
    },
    {
      op: 'logSumExp',
      axes: 'axis -1',
      outSize: n * h * w,
      flops: 4 * all,
      webgrad: (wg, x) => wg.logSumExp(x, { axis: -1 }),
      tfjs: (tf, x) => tf.logSumExp(x, -1),
    },
    {
      op: 'softmax',
      axes: 'axis -1',
      outSize: all,
      flops: 5 * all,
      webgrad: (wg, x) => wg.softmax(x, { axis: -1 }),
      tfjs: (tf, x) => tf.softmax(x, -1),
    },
    {
      op: 'softmax',
      axes: 'axis 1',
      outSize: all,
      flops: 5 * all,
      webgrad: (wg, x) => wg.softmax(x, { axis: 1 }),
      // tf.softmax takes only the last axis: a tfjs user shifts by logSumExp along the other one.
      tfjs: (tf, x) => tf.exp(tf.sub(x, tf.logSumExp(x, 1, true))),
    },
  ];
}

function reductionRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const n = size(STAGE2);
  return reduceCases().map((r, k): RowSpec => ({
    op: r.op,
    pass: 'forward',
    shape: `${fmt(STAGE2)} ${r.axes}`,
    flops: r.flops,
    bytes: 4 * (n + r.outSize),
    prepare(): Prepared {
      const x = pair(wg, tf, STAGE2, 700 + k);
      return {
        webgrad: () => r.webgrad(wg, x.w),
        tfjs: () => r.tfjs(tf, x.t),
        dispose: disposer(x.w, x.t),
      };
    },
  }));
}

/** The elementwise rows, then the reductions. */
export function elementwiseAndReductionRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  return [...elementwiseRows(wg, tf), ...reductionRows(wg, tf)];
}
