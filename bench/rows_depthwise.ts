// The benchmark's rows for depthwise convolution (MobileNet shapes) and grouped convolution (a ResNeXt block).
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Wg from '../src/index.js';
import type { Prepared, RowSpec } from './harness.js';
import { disposer, fmt, pair, size, takeGrad } from './row_util.js';

const N = 8;

interface DepthwiseCase {
  h: number;
  c: number;
  stride: number;
  /** Batch (default N). */
  n?: number;
}

/** MobileNet v1's depthwise 3x3 layers at 224x224 (stride 1 and the stride-2 downsamplings), batch 8 (one 4). */
const DEPTHWISE: DepthwiseCase[] = [
  // Batch 4: at batch 8 tfjs's dw kernel sums N*OH*OW = 100,352 terms in one shader loop, past llvmpipe's
  // 65,535-iteration limit, and returns wrong values (seen: 215 off the float64 reference; webgrad 4e-4).
  { h: 112, c: 32, stride: 1, n: 4 },
  { h: 112, c: 64, stride: 2 },
  { h: 56, c: 128, stride: 1 },
  { h: 28, c: 256, stride: 2 },
];

type Pair2 = [number, number];

function depthwiseRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const rows: RowSpec[] = [];
  DEPTHWISE.forEach((d, k) => {
    const oh = Math.ceil(d.h / d.stride);
    const n = d.n ?? N;
    const xShape = [n, d.h, d.h, d.c];
    const wShape = [3, 3, d.c, 1];
    const yShape = [n, oh, oh, d.c];
    const shape = `${fmt(xShape)} k3x3 s${d.stride}`;
    const flops = 2 * size(yShape) * 9;
    const bytes = 4 * (size(xShape) + size(wShape) + size(yShape));
    const strides: Pair2 = [d.stride, d.stride];
    const attrs: Wg.ConvAttrs = { stride: strides, dilation: [1, 1], padding: 'same' };
    const tfAttrs = { strides, pad: 'same', dilations: [1, 1] };
    const seed = 800 + 10 * k;
    rows.push(
      {
        op: 'depthwiseConv2d',
        pass: 'forward',
        shape,
        flops,
        bytes,
        prepare(): Prepared {
          const x = pair(wg, tf, xShape, seed);
          const w = pair(wg, tf, wShape, seed + 1);
          return {
            webgrad: () => wg.depthwiseConv2d(x.w, w.w, { stride: d.stride, padding: 'same' }),
            tfjs: () => tf.depthwiseConv2d(x.t as Tf.Tensor4D, w.t as Tf.Tensor4D, strides, 'same'),
            dispose: disposer(x.w, x.t, w.w, w.t),
          };
        },
      },
      {
        op: 'depthwiseConv2d',
        pass: 'backprop-input',
        shape,
        flops,
        bytes,
        prepare(): Prepared {
          const dy = pair(wg, tf, yShape, seed + 2);
          const w = pair(wg, tf, wShape, seed + 3);
          return {
            // Each side's dx kernel, the one its depthwise gradient runs.
            webgrad: () => wg.depthwiseBackpropInput(dy.w, w.w, xShape, attrs),
            tfjs: () =>
              tf
                .engine()
                .runKernel(
                  tf.DepthwiseConv2dNativeBackpropInput,
                  { dy: dy.t, filter: w.t },
                  { ...tfAttrs, inputShape: xShape },
                ) as Tf.Tensor,
            dispose: disposer(dy.w, dy.t, w.w, w.t),
          };
        },
      },
      {
        op: 'depthwiseConv2d',
        pass: 'backprop-filter',
        shape,
        flops,
        bytes,
        prepare(): Prepared {
          const x = pair(wg, tf, xShape, seed + 4);
          const dy = pair(wg, tf, yShape, seed + 5);
          return {
            webgrad: () => wg.depthwiseBackpropFilter(x.w, dy.w, wShape, attrs),
            tfjs: () =>
              tf
                .engine()
                .runKernel(
                  tf.DepthwiseConv2dNativeBackpropFilter,
                  { x: x.t, dy: dy.t },
                  { ...tfAttrs, filterShape: wShape },
                ) as Tf.Tensor,
            dispose: disposer(x.w, x.t, dy.w, dy.t),
          };
        },
      },
    );
  });
  return rows;
}

/** ResNeXt-50 32x4d's stage-2 grouped 3x3: 256 channels in 32 groups of 8, 28x28, batch 8. */
function groupedRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  const groups = 32;
  const xShape = [N, 28, 28, 256];
  const wShape = [3, 3, 256 / groups, 256];
  const shape = `${fmt(xShape)} k3x3 s1 groups ${groups}`;
  const flops = 2 * size(xShape) * 9 * wShape[2];
  const bytes = 4 * (2 * size(xShape) + size(wShape));
  // tfjs has no grouped conv2d: a tfjs user splits the channels, convolves each group and concatenates.
  const tfGrouped = (x: Tf.Tensor, w: Tf.Tensor) => {
    const xs = tf.split(x, groups, 3);
    const ws = tf.split(w, groups, 3);
    return tf.concat(
      xs.map((xg, g) => tf.conv2d(xg as Tf.Tensor4D, ws[g] as Tf.Tensor4D, 1, 'same')),
      3,
    );
  };
  return [
    {
      op: 'conv2d grouped',
      pass: 'forward',
      shape,
      flops,
      bytes,
      prepare(): Prepared {
        const x = pair(wg, tf, xShape, 900);
        const w = pair(wg, tf, wShape, 901);
        return {
          webgrad: () => wg.conv2d(x.w, w.w, { groups, padding: 'same' }),
          tfjs: () => tfGrouped(x.t, w.t),
          dispose: disposer(x.w, x.t, w.w, w.t),
        };
      },
    },
    {
      op: 'conv2d grouped',
      pass: 'forward+backward',
      shape,
      flops: 3 * flops,
      bytes: 3 * bytes,
      prepare(): Prepared {
        const x = pair(wg, tf, xShape, 902, true);
        const w = pair(wg, tf, wShape, 903, true);
        const dy = pair(wg, tf, xShape, 904);
        const grads = tf.grads((a: Tf.Tensor, b: Tf.Tensor) => tfGrouped(a, b));
        // y and dw are held past the iteration's tidy (and disposed in the next one, after its flush), so webgrad
        // computes them although only dx is read: a lazy engine drops work whose result nobody holds, and tfjs
        // computes the forward and both gradients eagerly.
        let held: Wg.Tensor[] = [];
        const release = () => held.forEach((t) => t.dispose());
        return {
          // y, dx and dw are computed on both sides; dx is the value compared.
          webgrad: () => {
            release();
            const y = wg.conv2d(x.w, w.w, { groups, padding: 'same' });
            wg.backward(y, dy.w);
            held = [wg.keep(y), wg.keep(takeGrad(w.w))];
            return takeGrad(x.w);
          },
          tfjs: () => grads([x.t, w.t], dy.t)[0],
          dispose: () => {
            release();
            disposer(x.w, x.t, w.w, w.t, dy.w, dy.t)();
          },
        };
      },
    },
  ];
}

/** The depthwise rows, then the grouped ones. */
export function depthwiseAndGroupedRows(wg: typeof Wg, tf: typeof Tf): RowSpec[] {
  return [...depthwiseRows(wg, tf), ...groupedRows(wg, tf)];
}
