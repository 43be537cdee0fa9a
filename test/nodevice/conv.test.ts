// No-device tests for conv geometry (TensorFlow 'same'/'valid'/explicit), conv2d shape errors, and the references.
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  ShapeError,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  tensor,
} from '../../src/index.js';
import { convAttrs } from '../../src/ops/conv2d.js';
import { convDims, normalizePair, resolvePadding } from '../../src/ops/conv_geometry.js';
import { refConv2d, refConv2dBackpropFilter, refConv2dBackpropInput } from '../../src/reference/conv.js';
import { seeded } from '../helpers.js';

describe('geometry', () => {
  it("follows TensorFlow 'same': out = ceil(in / stride), odd pixel to bottom/right", () => {
    // tf.conv2d on 5x5 with a 2x2 kernel, stride 1: pad 0 top/left, 1 bottom/right.
    expect(resolvePadding('t', 5, 5, 2, 2, [1, 1], [1, 1], 'same')).toEqual({
      outH: 5,
      outW: 5,
      padTop: 0,
      padLeft: 0,
      padBottom: 1,
      padRight: 1,
    });
    // 224 input, 7x7 stride 2 (ResNet stem): out 112, total pad 5 = 2 + 3.
    expect(resolvePadding('t', 224, 224, 7, 7, [2, 2], [1, 1], 'same')).toEqual({
      outH: 112,
      outW: 112,
      padTop: 2,
      padLeft: 2,
      padBottom: 3,
      padRight: 3,
    });
    // 4x4 kernel on 8x9, stride 2: out 4x5; total pads 2 (H) and 3 (W).
    expect(resolvePadding('t', 8, 9, 4, 4, [2, 2], [1, 1], 'same')).toEqual({
      outH: 4,
      outW: 5,
      padTop: 1,
      padLeft: 1,
      padBottom: 1,
      padRight: 2,
    });
    // Stride larger than the window: no padding needed.
    expect(resolvePadding('t', 7, 7, 1, 1, [2, 2], [1, 1], 'same')).toMatchObject({
      outH: 4,
      padTop: 0,
      padBottom: 0,
    });
    // Dilation 2 makes a 3x3 window 5 wide.
    expect(resolvePadding('t', 10, 10, 3, 3, [1, 1], [2, 2], 'same')).toMatchObject({
      outH: 10,
      padTop: 2,
      padBottom: 2,
    });
  });

  it("computes 'valid' and explicit paddings", () => {
    expect(resolvePadding('t', 7, 6, 3, 3, [2, 2], [1, 1], 'valid')).toMatchObject({ outH: 3, outW: 2 });
    expect(
      resolvePadding(
        't',
        7,
        6,
        3,
        3,
        [1, 1],
        [1, 1],
        [
          [1, 2],
          [0, 3],
        ],
      ),
    ).toEqual({
      outH: 8,
      outW: 7,
      padTop: 1,
      padLeft: 0,
      padBottom: 2,
      padRight: 3,
    });
    expect(resolvePadding('t', 5, 5, 5, 5, [1, 1], [1, 1], 2)).toMatchObject({ outH: 5, outW: 5 });
  });

  it('rejects bad strides, paddings and windows that do not fit', () => {
    expect(normalizePair('conv2d', 'stride', [2, 1])).toEqual([2, 1]);
    expect(() => normalizePair('conv2d', 'stride', 0)).toThrow(ArgumentError);
    expect(() => normalizePair('conv2d', 'dilation', 1.5)).toThrow(/conv2d: argument 'dilation'/);
    expect(() => resolvePadding('t', 5, 5, 3, 3, [1, 1], [1, 1], -1)).toThrow(ArgumentError);
    expect(() => resolvePadding('t', 2, 5, 3, 3, [1, 1], [1, 1], 'valid')).toThrow(ShapeError);
  });
});

describe('conv2d shape rules', () => {
  const x = tensor(new Float32Array(2 * 8 * 8 * 3), [2, 8, 8, 3]);
  it('gives TensorFlow output shapes', () => {
    expect(conv2d(x, tensor(new Float32Array(3 * 3 * 3 * 4), [3, 3, 3, 4])).shape).toEqual([2, 6, 6, 4]);
    const w2 = tensor(new Float32Array(2 * 2 * 3 * 5), [2, 2, 3, 5]);
    expect(conv2d(x, w2, { stride: 2, padding: 'same' }).shape).toEqual([2, 4, 4, 5]);
  });
  it('names op, argument and shapes in errors', () => {
    expect(() => conv2d(x, tensor(new Float32Array(3 * 3 * 4 * 8), [3, 3, 4, 8]))).toThrow(
      "conv2d: argument 'w' must be [KH,KW,Cin,Cout] with Cin=3 matching x [2,8,8,3], got [3,3,4,8]",
    );
    // A PyTorch-style NCHW input whose axis 1 holds the filter's Cin: the message says activations are NHWC.
    const nchw = tensor(new Float32Array(2 * 4 * 8 * 8), [2, 4, 8, 8]);
    expect(() => conv2d(nchw, tensor(new Float32Array(3 * 3 * 4 * 8), [3, 3, 4, 8]))).toThrow(
      "conv2d: argument 'w' must be [KH,KW,Cin,Cout] with Cin=8 matching x [2,4,8,8], got [3,3,4,8] (x looks NCHW: activations are NHWC, [N,H,W,C])",
    );
    const w = tensor(new Float32Array(3 * 3 * 3 * 4), [3, 3, 3, 4]);
    expect(() => conv2d(x, w, { bias: tensor([1, 2], [2]) })).toThrow(
      /conv2d: argument 'bias' must be \[4\]/,
    );
    expect(() => conv2d(tensor(new Float32Array(8), [8]), w)).toThrow(
      /conv2d: argument 'x' must have rank 4/,
    );
    expect(() =>
      conv2dBackpropInput(tensor(new Float32Array(4), [1, 1, 1, 4]), w, [2, 8, 8, 3], convAttrs('c', {})),
    ).toThrow(/conv2dBackpropInput: argument 'dy' must be \[2,6,6,4\]/);
    expect(() =>
      conv2dBackpropFilter(x, tensor(new Float32Array(4), [1, 1, 1, 4]), [3, 3, 3, 4], convAttrs('c', {})),
    ).toThrow(/conv2dBackpropFilter: argument 'dy'/);
  });
});

describe('reference', () => {
  const xs = [2, 5, 6, 3];
  const ws = [3, 2, 3, 4];
  const attrs = convAttrs('conv2d', { stride: [2, 1], padding: 'same', dilation: [1, 2] });
  const d = convDims('conv2d', xs, ws, attrs);
  const x = { shape: xs, data: Float64Array.from(seeded(180, 1)) };
  const w = { shape: ws, data: Float64Array.from(seeded(72, 2)) };
  const dy = {
    shape: [d.n, d.oh, d.ow, d.cout],
    data: Float64Array.from(seeded(d.n * d.oh * d.ow * d.cout, 3)),
  };

  it('computes an exact small case', () => {
    const one = convDims('conv2d', [1, 2, 2, 1], [2, 2, 1, 1], convAttrs('c', {}));
    const y = refConv2d(
      { shape: [1, 2, 2, 1], data: Float64Array.from([1, 2, 3, 4]) },
      { shape: [2, 2, 1, 1], data: Float64Array.from([1, 10, 100, 1000]) },
      { shape: [1], data: Float64Array.from([0.5]) },
      one,
    );
    expect(Array.from(y.data)).toEqual([4321.5]);
  });

  it('backward passes match finite differences of <dy, conv2d(x, w)>', () => {
    const loss = (xx: Float64Array, ww: Float64Array) =>
      refConv2d({ shape: xs, data: xx }, { shape: ws, data: ww }, undefined, d).data.reduce(
        (a, v, i) => a + v * dy.data[i],
        0,
      );
    const dx = refConv2dBackpropInput(dy, w, d).data;
    const dw = refConv2dBackpropFilter(x, dy, d).data;
    const eps = 1e-6;
    for (const i of [0, 7, 33, 100, 179]) {
      const p = x.data.slice();
      const m = x.data.slice();
      p[i] += eps;
      m[i] -= eps;
      expect(dx[i]).toBeCloseTo((loss(p, w.data) - loss(m, w.data)) / (2 * eps), 6);
    }
    for (const i of [0, 5, 40, 71]) {
      const p = w.data.slice();
      const m = w.data.slice();
      p[i] += eps;
      m[i] -= eps;
      expect(dw[i]).toBeCloseTo((loss(x.data, p) - loss(x.data, m)) / (2 * eps), 6);
    }
  });
});
