// Grouped conv2d (groups < Cin) on the device: forward, dx and dw vs an independent float64 grouped reference on
// edge shapes, gradcheck, and the backward plan: split's gradient is one concat, never a full-size pad per group.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { convDims, type ConvAttrs, type Padding } from '../../src/ops/conv_geometry.js';
import type { RefTensor } from '../../src/ops/types.js';
import { refConv2d, refConv2dBackpropFilter, refConv2dBackpropInput } from '../../src/reference/conv.js';
import { expectClose, seeded, useGpu } from '../helpers.js';

useGpu();
const tol = { atol: 2e-5, rtol: 2e-4 };

/** Channels [start, start + size) of the last axis of t. */
function channels(t: RefTensor, start: number, size: number): RefTensor {
  const c = t.shape[t.shape.length - 1];
  const rows = t.data.length / c;
  const data = new Float64Array(rows * size);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < size; j++) data[r * size + j] = t.data[r * c + start + j];
  return { shape: [...t.shape.slice(0, -1), size], data };
}

/** Writes `part` into channels [start, start + part's channels) of the last axis of `into`. */
function putChannels(into: Float64Array, c: number, start: number, part: RefTensor): void {
  const size = part.shape[part.shape.length - 1];
  const rows = part.data.length / size;
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < size; j++) into[r * c + start + j] = part.data[r * size + j];
}

/**
 * Grouped conv in float64, one plain conv per group on host-sliced channels: y, dx and dw for the output
 * gradient dy. Shapes: x [N,H,W,Cin], w [KH,KW,Cin/groups,Cout], dy [N,OH,OW,Cout].
 */
function refGrouped(x: RefTensor, w: RefTensor, dy: RefTensor, groups: number, attrs: ConvAttrs) {
  const cin = x.shape[3];
  const cout = w.shape[3];
  const [cinG, coutG] = [cin / groups, cout / groups];
  const d = convDims('conv2d', [...x.shape.slice(0, 3), cinG], [...w.shape.slice(0, 3), coutG], attrs);
  const y = new Float64Array(d.n * d.oh * d.ow * cout);
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(w.data.length);
  for (let g = 0; g < groups; g++) {
    const xg = channels(x, g * cinG, cinG);
    const wg_ = channels(w, g * coutG, coutG);
    const dyg = channels(dy, g * coutG, coutG);
    putChannels(y, cout, g * coutG, refConv2d(xg, wg_, undefined, d));
    putChannels(dx, cin, g * cinG, refConv2dBackpropInput(dyg, wg_, d));
    putChannels(dw, cout, g * coutG, refConv2dBackpropFilter(xg, dyg, d));
  }
  return { y, dx, dw };
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const ref = (t: Float32Array, shape: number[]): RefTensor => ({ shape, data: Float64Array.from(t) });

interface Case {
  x: number[];
  cout: number;
  groups: number;
  k: number;
  stride: number;
  padding: Padding;
}

// Groups 2, 3, 4 and 32; channels per group 1 (depthwise), 3, 4 and 8 in and out, and unequal in/out; stride 2
// with odd and even sizes; 'same' and 'valid'; batch 1.
const CASES: Case[] = [
  { x: [2, 7, 6, 4], cout: 6, groups: 2, k: 3, stride: 1, padding: 'same' },
  { x: [1, 9, 8, 9], cout: 9, groups: 3, k: 3, stride: 2, padding: 'same' },
  { x: [2, 8, 7, 16], cout: 16, groups: 4, k: 3, stride: 2, padding: 'valid' },
  { x: [1, 6, 6, 12], cout: 8, groups: 4, k: 2, stride: 1, padding: 'same' },
  { x: [2, 5, 5, 256], cout: 256, groups: 32, k: 3, stride: 1, padding: 'same' },
  { x: [1, 7, 7, 96], cout: 64, groups: 32, k: 3, stride: 2, padding: 'valid' },
  { x: [1, 5, 6, 3], cout: 6, groups: 3, k: 3, stride: 1, padding: 'same' },
];

describe('grouped conv2d vs the float64 grouped reference', () => {
  for (const c of CASES) {
    const cinG = c.x[3] / c.groups;
    it(`x ${c.x.join('x')} Cout ${c.cout} groups ${c.groups} (Cin/group ${cinG}) ${c.k}x${c.k} s${c.stride} ${c.padding}`, async () => {
      const wShape = [c.k, c.k, cinG, c.cout];
      const xv = seeded(size(c.x), 1);
      const wv = seeded(size(wShape), 2);
      const x = wg.tensor(xv, c.x, { requiresGrad: true });
      const w = wg.tensor(wv, wShape, { requiresGrad: true });
      const y = wg.conv2d(x, w, { groups: c.groups, stride: c.stride, padding: c.padding });
      const dyv = seeded(y.size, 3);
      wg.backward(y, wg.tensor(dyv, [...y.shape]));
      const attrs: ConvAttrs = { stride: [c.stride, c.stride], dilation: [1, 1], padding: c.padding };
      const r = refGrouped(ref(xv, c.x), ref(wv, wShape), ref(dyv, [...y.shape]), c.groups, attrs);
      expectClose(await y.data(), r.y, tol, 'y');
      expectClose(await x.grad!.data(), r.dx, tol, 'dx');
      expectClose(await w.grad!.data(), r.dw, tol, 'dw');
    });
  }

  it('passes gradcheck (groups 2 stride 2 same, groups 3 valid, with bias)', async () => {
    for (const [xs, wShape, groups, stride, padding] of [
      [[1, 5, 4, 4], [3, 3, 2, 4], 2, 2, 'same'],
      [[2, 4, 5, 6], [2, 2, 2, 3], 3, 1, 'valid'],
    ] as [number[], number[], number, number, Padding][]) {
      const x = wg.tensor(seeded(size(xs), 4), xs);
      const w = wg.tensor(seeded(size(wShape), 5), wShape);
      const b = wg.tensor(seeded(wShape[3], 6), [wShape[3]]);
      const result = await wg.gradcheck(
        (a, f, c) => wg.conv2d(a, f, { groups, stride, padding, bias: c }),
        [x, w, b],
      );
      expect(result.mismatches).toEqual([]);
    }
  });

  it("plans split's gradient as one concat: no pad or add kernels, one dx and one dw kernel per group", async () => {
    const groups = 8;
    const x = wg.tensor(seeded(2 * 6 * 6 * 32, 7), [2, 6, 6, 32], { requiresGrad: true });
    const w = wg.tensor(seeded(3 * 3 * 4 * 32, 8), [3, 3, 4, 32], { requiresGrad: true });
    const dy = wg.tensor(seeded(2 * 6 * 6 * 32, 9), [2, 6, 6, 32]);
    const plan = await wg.explain(() => {
      wg.backward(wg.conv2d(x, w, { groups, padding: 'same' }), dy);
      return [x.grad, w.grad];
    });
    const ops = plan.kernels.flatMap((k) => k.nodes.map((n) => n.op));
    const count = (op: string) => ops.filter((o) => o === op).length;
    expect(count('sliceBackward')).toBe(0);
    expect(count('add')).toBe(0);
    expect(count('conv2dBackpropInput')).toBe(groups);
    expect(count('conv2dBackpropFilter')).toBe(groups);
  });
});
