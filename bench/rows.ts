// The benchmark's op rows: each op and pass at ResNet/Inception shapes, written once for webgrad and tfjs.
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Wg from '../src/index.js';
import type { Prepared, RowSpec } from './harness.js';
import { disposer, fmt, pair, size, takeGrad } from './row_util.js';
import { depthwiseAndGroupedRows } from './rows_depthwise.js';
import { elementwiseAndReductionRows } from './rows_elementwise.js';

const N = 8;

function elementwiseRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const shape = [N, 32, 32, 64];
  const n = size(shape);
  return [
    {
      op: 'relu',
      pass: 'forward',
      shape: fmt(shape),
      flops: n,
      bytes: 8 * n,
      prepare(): Prepared {
        const x = pair(wg, tf, shape, 1);
        return {
          webgrad: () => wg.relu(x.w),
          tfjs: () => tf.relu(x.t),
          dispose: disposer(x.w, x.t),
        };
      },
    },
    {
      op: 'relu',
      pass: 'backward',
      shape: fmt(shape),
      flops: n,
      bytes: 12 * n,
      prepare(): Prepared {
        const x = pair(wg, tf, shape, 2, true);
        const dy = pair(wg, tf, shape, 3);
        // The forward output is held, as in training, so only the backward pass is timed.
        const y = wg.relu(x.w);
        return {
          webgrad: () => {
            wg.backward(y, dy.w);
            return takeGrad(x.w);
          },
          // tfjs's relu gradient is dy * step(x): these are the kernels tf.grad runs for it.
          tfjs: () => tf.mul(dy.t, tf.step(x.t)),
          dispose: disposer(y, x.w, x.t, dy.w, dy.t),
        };
      },
    },
    {
      op: 'add',
      pass: 'forward',
      shape: fmt(shape),
      flops: n,
      bytes: 12 * n,
      prepare(): Prepared {
        const a = pair(wg, tf, shape, 4);
        const b = pair(wg, tf, shape, 5);
        return {
          webgrad: () => wg.add(a.w, b.w),
          tfjs: () => tf.add(a.t, b.t),
          dispose: disposer(a.w, a.t, b.w, b.t),
        };
      },
    },
  ];
}

interface ConvCase {
  h: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
}

/** ResNet/Inception convolutions, all 'same' padded, square images and kernels. */
const CONVS: ConvCase[] = [
  { h: 32, cin: 64, cout: 64, k: 3, stride: 1 }, // ResNet basic block
  { h: 32, cin: 64, cout: 128, k: 3, stride: 2 }, // first conv of a downsampling block
  { h: 32, cin: 64, cout: 128, k: 1, stride: 2 }, // its 1x1 projection shortcut
  { h: 16, cin: 256, cout: 64, k: 1, stride: 1 }, // bottleneck / Inception 1x1 reduction
  { h: 64, cin: 3, cout: 64, k: 7, stride: 2 }, // stem
  { h: 16, cin: 32, cout: 32, k: 5, stride: 1 }, // Inception 5x5 branch
];

function convRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const rows: RowSpec[] = [];
  for (const c of CONVS) {
    const oh = Math.ceil(c.h / c.stride);
    const xShape = [N, c.h, c.h, c.cin];
    const wShape = [c.k, c.k, c.cin, c.cout];
    const yShape = [N, oh, oh, c.cout];
    const shape = `${fmt(xShape)} k${c.k}x${c.k} s${c.stride} ->${c.cout}`;
    const flops = 2 * size(yShape) * c.k * c.k * c.cin;
    const attrs: Wg.ConvAttrs = { stride: [c.stride, c.stride], dilation: [1, 1], padding: 'same' };
    const strides: [number, number] = [c.stride, c.stride];
    const seed = rows.length * 10 + 100;
    rows.push(
      {
        op: 'conv2d',
        pass: 'forward',
        shape,
        flops,
        bytes: 4 * (size(xShape) + size(wShape) + size(yShape)),
        prepare(): Prepared {
          const x = pair(wg, tf, xShape, seed);
          const w = pair(wg, tf, wShape, seed + 1);
          return {
            webgrad: () => wg.conv2d(x.w, w.w, { stride: c.stride, padding: 'same' }),
            tfjs: () => tf.conv2d(x.t as Tf.Tensor4D, w.t as Tf.Tensor4D, strides, 'same'),
            dispose: disposer(x.w, x.t, w.w, w.t),
          };
        },
      },
      {
        op: 'conv2d',
        pass: 'backprop-input',
        shape,
        flops,
        bytes: 4 * (size(yShape) + size(wShape) + size(xShape)),
        prepare(): Prepared {
          const dy = pair(wg, tf, yShape, seed + 2);
          const w = pair(wg, tf, wShape, seed + 3);
          return {
            // Both sides run only the dx kernel that their conv2d gradient runs: webgrad's conv2d backward
            // rule calls conv2dBackpropInput, and tfjs's calls the Conv2DBackpropInput kernel, which is
            // what tf.conv2dTranspose runs.
            webgrad: () => wg.conv2dBackpropInput(dy.w, w.w, xShape, attrs),
            tfjs: () =>
              tf.conv2dTranspose(dy.t as Tf.Tensor4D, w.t as Tf.Tensor4D, xShape as Shape4, strides, 'same'),
            dispose: disposer(dy.w, dy.t, w.w, w.t),
          };
        },
      },
      {
        op: 'conv2d',
        pass: 'backprop-filter',
        shape,
        flops,
        bytes: 4 * (size(xShape) + size(yShape) + size(wShape)),
        prepare(): Prepared {
          const x = pair(wg, tf, xShape, seed + 4);
          const dy = pair(wg, tf, yShape, seed + 5);
          return {
            // Only the dw kernel on both sides; tfjs-core has no public wrapper for Conv2DBackpropFilter,
            // so the kernel is run through the engine with the attributes tf.grad would pass.
            webgrad: () => wg.conv2dBackpropFilter(x.w, dy.w, wShape, attrs),
            tfjs: () =>
              tf
                .engine()
                .runKernel(
                  tf.Conv2DBackpropFilter,
                  { x: x.t, dy: dy.t },
                  { strides, pad: 'same', dataFormat: 'NHWC', filterShape: wShape },
                ) as Tf.Tensor,
            dispose: disposer(x.w, x.t, dy.w, dy.t),
          };
        },
      },
    );
  }
  return rows;
}

type Shape4 = [number, number, number, number];

function poolRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const xShape = [N, 32, 32, 64];
  const yShape = [N, 16, 16, 64];
  const shape = `${fmt(xShape)} 3x3 s2 same`;
  // One comparison per window tap.
  const flops = size(yShape) * 9;
  return [
    {
      op: 'maxPool2d',
      pass: 'forward',
      shape,
      flops,
      bytes: 4 * (size(xShape) + size(yShape)),
      prepare(): Prepared {
        const x = pair(wg, tf, xShape, 200);
        return {
          webgrad: () => wg.maxPool2d(x.w, { size: 3, stride: 2, padding: 'same' }),
          tfjs: () => tf.maxPool(x.t as Tf.Tensor4D, 3, 2, 'same'),
          dispose: disposer(x.w, x.t),
        };
      },
    },
    {
      op: 'maxPool2d',
      pass: 'forward+backward',
      shape,
      flops: 2 * flops,
      bytes: 4 * (2 * size(xShape) + 2 * size(yShape)),
      prepare(): Prepared {
        const x = pair(wg, tf, xShape, 201, true);
        const dy = pair(wg, tf, yShape, 202);
        // webgrad saves the argmax in the forward pass, tfjs recomputes the window maxima in its
        // backward kernels, so the fair unit is forward and backward together.
        const grad = tf.grad((t: Tf.Tensor) => tf.maxPool(t as Tf.Tensor4D, 3, 2, 'same'));
        return {
          webgrad: () => {
            wg.backward(wg.maxPool2d(x.w, { size: 3, stride: 2, padding: 'same' }), dy.w);
            return takeGrad(x.w);
          },
          tfjs: () => grad(x.t, dy.t),
          dispose: disposer(x.w, x.t, dy.w, dy.t),
        };
      },
    },
  ];
}

function batchNormRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const xShape = [N, 32, 32, 64];
  const c = xShape[3];
  const n = size(xShape);
  const epsilon = 1e-3;
  const shape = `${fmt(xShape)} training`;
  /** webgrad's parameters and running averages, and tfjs's gamma and beta, with the same values. */
  const params = () => {
    const gamma = pair(wg, tf, [c], 300);
    const beta = pair(wg, tf, [c], 301);
    const runningMean = wg.zeros([c]);
    const runningVar = wg.ones([c]);
    const options = { gamma: gamma.w, beta: beta.w, runningMean, runningVar, training: true, epsilon };
    return {
      gamma,
      beta,
      options,
      dispose: disposer(gamma.w, gamma.t, beta.w, beta.t, runningMean, runningVar),
    };
  };
  // tfjs has no training-mode batch norm kernel: tf.moments and tf.batchNorm are what a model runs.
  // webgrad also updates its running averages in place each call (two small extra dispatches).
  const tfBatchNorm = (x: Tf.Tensor, gamma: Tf.Tensor, beta: Tf.Tensor) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, beta, gamma, epsilon);
  };
  return [
    {
      op: 'batchNorm',
      pass: 'forward',
      shape,
      // Mean, variance, then normalize and scale: about 6 operations per element.
      flops: 6 * n,
      bytes: 4 * (2 * n + 4 * c),
      prepare(): Prepared {
        const x = pair(wg, tf, xShape, 302);
        const p = params();
        return {
          webgrad: () => wg.batchNorm(x.w, p.options),
          tfjs: () => tfBatchNorm(x.t, p.gamma.t, p.beta.t),
          dispose: () => {
            disposer(x.w, x.t)();
            p.dispose();
          },
        };
      },
    },
    {
      op: 'batchNorm',
      pass: 'forward+backward',
      shape,
      flops: 14 * n,
      bytes: 4 * (4 * n + 4 * c),
      prepare(): Prepared {
        const x = pair(wg, tf, xShape, 303, true);
        const dy = pair(wg, tf, xShape, 304);
        const p = params();
        // The backward pass needs the batch statistics of the same call, so both sides run forward too.
        const grad = tf.grad((t: Tf.Tensor) => tfBatchNorm(t, p.gamma.t, p.beta.t));
        return {
          webgrad: () => {
            wg.backward(wg.batchNorm(x.w, p.options), dy.w);
            return takeGrad(x.w);
          },
          tfjs: () => grad(x.t, dy.t),
          dispose: () => {
            disposer(x.w, x.t, dy.w, dy.t)();
            p.dispose();
          },
        };
      },
    },
  ];
}

function matmulRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const [m, k, n] = [256, 1024, 256];
  const shape = `${m}x${k} . ${k}x${n}`;
  const flops = 2 * m * k * n;
  const bytes = 4 * (m * k + k * n + m * n);
  return [
    {
      op: 'matmul',
      pass: 'forward',
      shape,
      flops,
      bytes,
      prepare(): Prepared {
        const a = pair(wg, tf, [m, k], 400);
        const b = pair(wg, tf, [k, n], 401);
        return {
          webgrad: () => wg.matmul(a.w, b.w),
          tfjs: () => tf.matMul(a.t, b.t),
          dispose: disposer(a.w, a.t, b.w, b.t),
        };
      },
    },
    {
      op: 'matmul',
      pass: 'backprop-a',
      shape,
      flops,
      bytes,
      prepare(): Prepared {
        const dy = pair(wg, tf, [m, n], 402);
        const b = pair(wg, tf, [k, n], 403);
        // da = dy . bT: the product both engines' matmul gradients compute for a.
        return {
          webgrad: () => wg.matmul(dy.w, b.w, { transposeB: true }),
          tfjs: () => tf.matMul(dy.t, b.t, false, true),
          dispose: disposer(dy.w, dy.t, b.w, b.t),
        };
      },
    },
    {
      op: 'matmul',
      pass: 'backprop-b',
      shape,
      flops,
      bytes,
      prepare(): Prepared {
        const a = pair(wg, tf, [m, k], 404);
        const dy = pair(wg, tf, [m, n], 405);
        // db = aT . dy.
        return {
          webgrad: () => wg.matmul(a.w, dy.w, { transposeA: true }),
          tfjs: () => tf.matMul(a.t, dy.t, true, false),
          dispose: disposer(a.w, a.t, dy.w, dy.t),
        };
      },
    },
  ];
}

function softmaxCrossEntropyRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const [n, k] = [256, 1000];
  const shape = `${n}x${k}`;
  /** Logits on both sides, webgrad's int32 labels and tfjs's one-hot rows for the same classes. */
  const inputs = (seed: number) => {
    const logits = pair(wg, tf, [n, k], seed, true);
    const rng = new wg.Rng(seed + 1);
    const classes = Array.from({ length: n }, () => rng.int(k));
    const labels = wg.tensor(classes, [n], { dtype: 'int32' });
    // tf.losses.softmaxCrossEntropy takes one-hot labels; they are made once, as a data pipeline would.
    const onehot = tf.oneHot(tf.tensor1d(classes, 'int32'), k);
    return { logits, labels, onehot, dispose: disposer(logits.w, logits.t, labels, onehot) };
  };
  // tfjs's default reduction (SUM_BY_NONZERO_WEIGHTS) with unit weights is the batch mean, as in webgrad.
  const tfLoss = (onehot: Tf.Tensor, logits: Tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, logits);
  return [
    {
      op: 'softmaxCrossEntropy',
      pass: 'forward',
      shape,
      // Max, subtract, exp, sum, log per logit, about 5 operations.
      flops: 5 * n * k,
      bytes: 4 * (n * k + n),
      prepare(): Prepared {
        const d = inputs(500);
        return {
          webgrad: () => wg.softmaxCrossEntropy(d.logits.w, d.labels),
          tfjs: () => tfLoss(d.onehot, d.logits.t),
          dispose: d.dispose,
        };
      },
    },
    {
      op: 'softmaxCrossEntropy',
      pass: 'forward+backward',
      shape,
      flops: 8 * n * k,
      bytes: 4 * (2 * n * k + n),
      prepare(): Prepared {
        const d = inputs(510);
        const grad = tf.grad((logits: Tf.Tensor) => tfLoss(d.onehot, logits));
        return {
          webgrad: () => {
            wg.softmaxCrossEntropy(d.logits.w, d.labels).backward();
            return takeGrad(d.logits.w);
          },
          tfjs: () => grad(d.logits.t),
          dispose: d.dispose,
        };
      },
    },
  ];
}

/** Every row, in the order the table lists them. */
export function opRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  return [
    ...convRows(wg, tf),
    ...poolRows(wg, tf),
    ...elementwiseRows(wg, tf),
    ...elementwiseAndReductionRows(wg, tf),
    ...depthwiseAndGroupedRows(wg, tf),
    ...batchNormRows(wg, tf),
    ...matmulRows(wg, tf),
    ...softmaxCrossEntropyRows(wg, tf),
  ];
}
